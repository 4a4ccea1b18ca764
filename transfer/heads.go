package transfer

import (
	"fmt"
	"os"
	"slices"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/pth"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
)

// lastDense finds the last Dense layer among the model's head layers
// (m.Head) and the Sequential holding it.
func lastDense(m *models.Model) (parent *nn.Sequential, name, full string, d *nn.Dense) {
	for _, h := range m.Head {
		top, err := nn.Find(m, h)
		if err != nil {
			continue
		}
		if dd, ok := top.(*nn.Dense); ok {
			parent, name, full, d = m.Sequential, h, h, dd
			continue
		}
		nn.Walk(top, func(n string, l nn.Layer) {
			w, ok := l.(interface{ AsSequential() *nn.Sequential })
			if !ok {
				return
			}
			for _, c := range w.AsSequential().Children() {
				if dd, ok := c.Value.(*nn.Dense); ok {
					parent, name, d = w.AsSequential(), c.Name, dd
					full = h + "." + c.Name
					if n != "" {
						full = h + "." + n + "." + c.Name
					}
				}
			}
		})
	}
	return
}

// ReplaceHead gives the model a classifier for classes classes: the head's
// last dense layer is replaced by a fresh one (PyTorch's default
// initialisation from seed) when its class count differs, and the notice
// says what was dropped ("" when the head already fits and is kept).
func ReplaceHead(m *models.Model, classes int, seed uint64) (notice string, err error) {
	if classes < 1 {
		return "", fmt.Errorf("transfer: a head for %d classes", classes)
	}
	parent, name, full, d := lastDense(m)
	if d == nil {
		return "", fmt.Errorf("transfer: %s has no dense head to replace", m.Arch)
	}
	if d.Out == classes {
		return "", nil
	}
	if _, err := parent.Replace(name, nn.NewDense(d.In, classes, d.Bias != nil, seed)); err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	m.Options.Classes = classes
	return fmt.Sprintf("dropped head %s (%d classes) for a new one with %d", full, d.Out, classes), nil
}

// ResetHead re-initialises the head's last dense layer (timm's
// reset_classifier), keeping its size.
func ResetHead(m *models.Model, seed uint64) error {
	parent, name, _, d := lastDense(m)
	if d == nil {
		return fmt.Errorf("transfer: %s has no dense head", m.Arch)
	}
	_, err := parent.Replace(name, nn.NewDense(d.In, d.Out, d.Bias != nil, seed))
	return err
}

// AdaptInputChannels rebuilds the first convolution's weights for inputs
// of inChans channels, timm's in_chans rule: for one channel the weights
// are summed over the old channels (a grey image seen as equal RGB); for
// more, the old channels repeat cyclically and scale by old/new, so the
// response to an input replicated across channels is unchanged.
func AdaptInputChannels(m *models.Model, inChans int) error {
	if inChans < 1 {
		return fmt.Errorf("transfer: %d input channels", inChans)
	}
	var conv *nn.Conv2D
	nn.Walk(m, func(_ string, l nn.Layer) {
		if c, ok := l.(*nn.Conv2D); ok && conv == nil {
			conv = c
		}
	})
	if conv == nil {
		return fmt.Errorf("transfer: %s has no convolution", m.Arch)
	}
	if conv.P.Groups != 1 {
		return fmt.Errorf("transfer: the first convolution of %s has %d groups", m.Arch, conv.P.Groups)
	}
	old := conv.In
	if old == inChans {
		return nil
	}
	w := conv.Weight.Value
	k := conv.KH * conv.KW
	nw := tensor.Zeros(conv.Out, inChans, conv.KH, conv.KW)
	src, dst := w.Data(), nw.Data()
	for o := 0; o < conv.Out; o++ {
		for c := 0; c < inChans; c++ {
			out := dst[(o*inChans+c)*k : (o*inChans+c+1)*k]
			if inChans == 1 {
				for oc := 0; oc < old; oc++ {
					for i, v := range src[(o*old+oc)*k : (o*old+oc+1)*k] {
						out[i] += v
					}
				}
				continue
			}
			scale := float32(old) / float32(inChans)
			for i, v := range src[(o*old+c%old)*k : (o*old+c%old+1)*k] {
				out[i] = v * scale
			}
		}
	}
	conv.Weight.Value, conv.Weight.Grad = nw, tensor.Zeros(nw.Shape()...)
	conv.In = inChans
	m.Options.InChans = inChans
	m.InputShape[2] = inChans
	return nil
}

// Scratch returns the same architecture as m (its options, head size and
// input channels) with fresh random weights from seed: the from-scratch
// baseline of every transfer comparison. An imported model is cloned and
// each layer re-initialised with its own initialiser.
func Scratch(m *models.Model, seed uint64) (*models.Model, error) {
	if m.Imported() {
		c, err := m.Clone()
		if err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		c.Reinit(seed)
		return c, nil
	}
	o := m.Options
	o.Seed = seed
	s, err := models.New(m.Arch, o)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	return s, nil
}

// FromCheckpoint builds the architecture a checkpoint's metadata names
// and loads its weights (strictly).
func FromCheckpoint(path string) (*models.Model, nn.Meta, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nn.Meta{}, fmt.Errorf("transfer: %w", err)
	}
	m, meta, err := FromFile(f)
	if err != nil {
		return nil, meta, fmt.Errorf("transfer: %s: %w", path, err)
	}
	return m, meta, nil
}

// FromFile is FromCheckpoint from a safetensors file already read (an
// embedded checkpoint).
func FromFile(f *safetensors.File) (*models.Model, nn.Meta, error) {
	meta, err := nn.MetaOf(f)
	if err != nil {
		return nil, meta, err
	}
	if meta.Arch == "" {
		return nil, meta, fmt.Errorf("the checkpoint names no architecture (metadata \"arch\")")
	}
	if meta.Arch == models.ArchImported {
		n := 0
		for _, t := range f.Tensors {
			n += len(t.F32) + len(t.I64)
		}
		m, err := models.FromMeta(meta, n)
		if err != nil {
			return nil, meta, err
		}
		if _, _, err := nn.LoadFile(f, m, nn.LoadOptions{}); err != nil {
			return nil, meta, err
		}
		return m, meta, nil
	}
	o, err := models.ParseOptions(meta.Options)
	if err != nil {
		return nil, meta, err
	}
	m, err := models.New(meta.Arch, o)
	if err != nil {
		return nil, meta, err
	}
	if _, _, err := nn.LoadFile(f, m, nn.LoadOptions{}); err != nil {
		return nil, meta, err
	}
	if len(meta.InputShape) == 3 && !slices.Equal(meta.InputShape, m.InputShape) {
		return nil, meta, fmt.Errorf("input shape %v, the model built takes %v", meta.InputShape, m.InputShape)
	}
	return m, meta, nil
}

// FromTorch builds architecture arch and loads a PyTorch state_dict into
// it: a .pth/.pt file as torch.save writes it (read by nn/pth without
// running pickle; nested {"state_dict": …} checkpoints and DataParallel's
// "module." prefix accepted), or safetensors
// (safetensors.torch.save_file(model.state_dict(), path)). Neither
// carries graft metadata: the class count comes from the head's weight
// in the file, and loading is strict, so names and shapes must match
// graft's (torchvision's) exactly.
func FromTorch(path, arch string) (*models.Model, error) {
	tensors, err := readTorch(path)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	m, err := models.New(arch, models.Options{})
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if _, _, full, d := lastDense(m); d != nil {
		if w, ok := tensors[full+".weight"]; ok && len(w.Shape) == 2 && w.Shape[0] != d.Out {
			if m, err = models.New(arch, models.Options{Classes: w.Shape[0]}); err != nil {
				return nil, fmt.Errorf("transfer: %w", err)
			}
		}
	}
	if _, err := nn.LoadState(tensors, m, nn.LoadOptions{}); err != nil {
		return nil, fmt.Errorf("transfer: %s as %s: %w", path, arch, err)
	}
	return m, nil
}

// readTorch reads a state_dict from a torch.save file or a safetensors
// file, told apart by their first bytes.
func readTorch(path string) (map[string]*safetensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	isPth := pth.Is(f)
	f.Close()
	if isPth {
		sd, err := pth.ReadFile(path, pth.Options{StripModule: true})
		if err != nil {
			return nil, err
		}
		return sd.Tensors, nil
	}
	sf, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return sf.Tensors, nil
}
