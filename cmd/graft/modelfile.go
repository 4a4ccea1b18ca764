package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/pth"
	"github.com/graftml/graft/transfer"
)

// checkModelFile returns an error saying what path is when it is not a
// safetensors file, read from its first bytes: a file of another kind
// gets "not a safetensors checkpoint" and what it looks like, instead of
// whatever the safetensors header parser makes of it.
func checkModelFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a folder, not a model file", path)
	}
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	head = head[:n]
	if n >= 9 {
		hl := binary.LittleEndian.Uint64(head)
		if hl >= 2 && hl <= uint64(st.Size())-8 && head[8] == '{' {
			return nil // a safetensors header: its parser says the rest
		}
	}
	if pth.Is(f) {
		return fmt.Errorf("%s is a PyTorch file (torch.save): add --arch with one of %s", path, strings.Join(models.Archs(), ", "))
	}
	return fmt.Errorf("%s is not a safetensors checkpoint (%s); graft reads safetensors model files%s",
		path, looksLike(head, st.Size()), otherFormats())
}

// looksLike names the kind of file its first bytes suggest.
func looksLike(head []byte, size int64) string {
	switch {
	case size == 0:
		return "it is empty"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive, as PyTorch's torch.save writes"
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		return "a Python pickle, as older torch.save writes"
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "a program"
	case bytes.HasPrefix(head, []byte("\x89HDF")):
		return "an HDF5 file, as Keras writes"
	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("{")):
		return "a JSON file"
	case bytes.HasPrefix(head, []byte("\x89PNG")), bytes.HasPrefix(head, []byte("\xff\xd8\xff")), bytes.HasPrefix(head, []byte("GIF8")):
		return "an image"
	case len(head) > 0 && head[0] == 0x08:
		return "perhaps an ONNX model (protobuf)"
	}
	printable := true
	for _, c := range head {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			printable = false
		}
	}
	if printable {
		return "it starts with text: " + strconv.Quote(string(head))
	}
	return "its first bytes are " + fmt.Sprintf("% x", head)
}

// otherFormats points at the commands that import other formats, when
// this binary has them.
func otherFormats() string {
	if _, ok := commands["import"]; ok {
		return "; graft import converts ONNX and other formats"
	}
	return ""
}

// loadModel loads the model a command runs: a checkpoint (as loadBase),
// or a delta checkpoint over its base (the base given, else the base path
// the delta records).
func loadModel(path, arch, base string) (*models.Model, nn.Meta, error) {
	if path == "" {
		return nil, nn.Meta{}, errors.New("no --from checkpoint given")
	}
	if arch == "" && importKind(path) == "" {
		if err := checkModelFile(path); err != nil {
			return nil, nn.Meta{}, err
		}
		meta, err := nn.ReadMeta(path)
		if err != nil {
			return nil, nn.Meta{}, err
		}
		if transfer.IsDelta(meta) {
			return loadDelta(path, meta, base)
		}
	}
	if base != "" {
		return nil, nn.Meta{}, fmt.Errorf("--base %s: %s is not a delta checkpoint (finetune --delta writes those)", base, path)
	}
	return loadBase(path, arch)
}

// loadDelta loads the delta at path over its base.
func loadDelta(path string, meta nn.Meta, base string) (*models.Model, nn.Meta, error) {
	recorded := meta.Extra[transfer.MetaBase]
	if base == "" {
		if recorded == "" || !filepath.IsAbs(recorded) {
			return nil, nn.Meta{}, fmt.Errorf("%s is a delta checkpoint over base %q: give the base with --base FILE", path, recorded)
		}
		if _, err := os.Stat(recorded); err != nil {
			return nil, nn.Meta{}, fmt.Errorf("%s is a delta checkpoint over %s, which is not there: give the base with --base FILE", path, recorded)
		}
		base = recorded
	}
	b, _, err := loadBase(base, "")
	if err != nil {
		return nil, nn.Meta{}, fmt.Errorf("the base of delta %s: %v", path, err)
	}
	m, err := transfer.LoadDelta(path, b)
	if err != nil {
		return nil, nn.Meta{}, err
	}
	return m, meta, nil
}
