package main

import (
	"fmt"
	"strings"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/transfer"
)

// imagenetBase imports a Keras MobileNet-like classifier saved for TF.js
// (npm nsfwjs's MobileNetV2: an ImageNet-pretrained backbone under a
// 5-class head) as a transfer base for grey size×size images with pixels
// in [0, 1] (nsfwjs feeds RGB bytes / 255, no mean or standard deviation).
//
// The base keeps the backbone up to its last spatial layer (MobileNetV2's
// out_relu, 1280 channels) and ends in a global average pooling and a
// fresh dense classifier of the original class count: the file's own
// pooling is a fixed 7×7 window, which only fits 224² inputs, and the
// dense layers above it were trained for its 5 NSFW classes, not ImageNet.
// The first convolution's RGB weights are summed (transfer.
// AdaptInputChannels), which is exactly the network seeing the grey image
// copied into three channels, at a third of the input memory. A cut
// names the top-level layer that ends the backbone instead (an earlier,
// less task-specific one). Layer
// groups follow the spatial resolution (models.GroupsByResolution).
func imagenetBase(path string, size int, cut string) (*models.Model, error) {
	imp, err := tfjs.Read(path)
	if err != nil {
		return nil, err
	}
	if len(imp.InputShape) != 3 || imp.InputShape[2] != 3 {
		return nil, fmt.Errorf("%s: input shape %v, want an RGB image (H, W, 3)", path, imp.InputShape)
	}
	// The file's model (softmax dropped, structured), at its own size.
	full, err := imp.Model(tfjs.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	s, classes := full.Sequential, full.Options.Classes
	sum, err := nn.Summarize(s, append([]int{1}, imp.InputShape...))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	// The last top-level child with a spatial (H, W > 1) output ends the
	// backbone, or the one named cut.
	last, channels := -1, 0
	for i, c := range s.Children() {
		for _, r := range sum.Layers {
			// A child's rows: its own, or its nodes' when it is a graph.
			own := r.Name == c.Name || strings.HasPrefix(r.Name, c.Name+".")
			if own && len(r.OutShape) == 4 && (cut == "" && r.OutShape[1]*r.OutShape[2] > 1 || cut == c.Name) {
				last, channels = i, r.OutShape[3]
			}
		}
	}
	if last < 0 && cut != "" {
		return nil, fmt.Errorf("%s: no top-level layer %q with a spatial output to cut at", path, cut)
	}
	if last < 0 || classes < 2 {
		return nil, fmt.Errorf("%s: no spatial backbone under a classifier (output %v)", path, imp.OutputShape)
	}
	s.Truncate(last + 1)
	s.Add("global_pool", nn.NewGlobalAvgPool())
	s.Add("predictions", nn.NewDense(channels, classes, true, 1))
	shape := []int{size, size, 3}
	groups, err := models.GroupsByResolution(s, shape, []string{"predictions"})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	m, err := models.NewImported(s, shape, []string{"predictions"}, groups, full.Extra[models.MetaSource])
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := transfer.AdaptInputChannels(m, 1); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	// The import keeps Keras's BatchNorm momentum (0.99, 0.999 here, as
	// graft's 0.01, 0.001): the running statistics follow the batches' by
	// a tenth of a percent a step, so fine-tuned or retrained for a few
	// hundred steps the network would be evaluated with statistics it no
	// longer matches (scratch measured 0.13 on Fashion-MNIST at 10 per
	// class). The demo's short runs take PyTorch's 0.1; frozen layers keep
	// theirs either way.
	nn.Walk(m, func(_ string, l nn.Layer) {
		if bn, ok := l.(*nn.BatchNorm); ok {
			bn.Momentum = 0.1
		}
	})
	m.Extra["channel_order"] = "grey (RGB weights summed)"
	m.Mean, m.Std = []float32{0}, []float32{1}
	return m, nil
}

// resized returns s (grey images normalised with s.Mean and s.Std) as
// size×size grey images with pixels in [0, 1], resized bilinearly.
func resized(s *data.Set, size int) (*data.Set, error) {
	if len(s.Shape) != 3 || s.Shape[2] != 1 || len(s.Mean) != 1 || len(s.Std) != 1 {
		return nil, fmt.Errorf("resizing %v images: want grey images", s.Shape)
	}
	h, w := s.Shape[0], s.Shape[1]
	e, ne := h*w, size*size
	out := &data.Set{X: make([]float32, s.Len()*ne), Labels: append([]int(nil), s.Labels...),
		Shape: []int{size, size, 1}, Classes: s.Classes, Mean: []float32{0}, Std: []float32{1}}
	pix := make([]float32, e)
	for i := range s.Len() {
		for j, v := range s.X[i*e : (i+1)*e] {
			pix[j] = min(max(v*s.Std[0]+s.Mean[0], 0), 1)
		}
		data.Resize(out.X[i*ne:(i+1)*ne], size, size, pix, h, w, 1)
	}
	return out, nil
}
