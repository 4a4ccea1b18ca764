package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/graftml/graft/nn"
)

// plotHistory writes loss and accuracy curves per epoch (training and
// validation) to a PNG file, two panels side by side.
func plotHistory(path string, epochs []nn.EpochStats) error {
	if len(epochs) == 0 {
		return fmt.Errorf("plot %s: no epochs to plot", path)
	}
	series := func(get func(nn.EpochStats) float64) plotter.XYs {
		xy := make(plotter.XYs, 0, len(epochs))
		for _, e := range epochs {
			if v := get(e); v == v { // skip NaN (no validation data)
				xy = append(xy, plotter.XY{X: float64(e.Epoch), Y: v})
			}
		}
		return xy
	}
	panel := func(title, ylabel string, train, val plotter.XYs) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, "epoch", ylabel
		for i, s := range []struct {
			name string
			xy   plotter.XYs
		}{{"train", train}, {"validation", val}} {
			if len(s.xy) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(s.xy)
			if err != nil {
				return nil, err
			}
			l.Color, pts.Color = plotColors[i], plotColors[i]
			p.Add(l, pts)
			p.Legend.Add(s.name, l, pts)
		}
		return p, nil
	}
	loss, err := panel("loss", "cross-entropy", series(func(e nn.EpochStats) float64 { return e.TrainLoss }),
		series(func(e nn.EpochStats) float64 { return e.ValLoss }))
	if err != nil {
		return fmt.Errorf("plot %s: %v", path, err)
	}
	acc, err := panel("accuracy", "accuracy", series(func(e nn.EpochStats) float64 { return e.TrainAcc }),
		series(func(e nn.EpochStats) float64 { return e.ValAcc }))
	if err != nil {
		return fmt.Errorf("plot %s: %v", path, err)
	}
	img := vgimgCanvas(12*vg.Inch, 4.5*vg.Inch)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{loss, acc}}, tiles, draw.New(img))
	loss.Draw(canvases[0][0])
	acc.Draw(canvases[0][1])
	return savePNG(path, img)
}

var plotColors = []color.Color{color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255}}

func vgimgCanvas(w, h vg.Length) *vgimg.Canvas { return vgimg.New(w, h) }

// savePNG writes the canvas as PNG atomically (a temporary file renamed).
func savePNG(path string, c *vgimg.Canvas) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".graft-plot-*.png")
	if err != nil {
		return fmt.Errorf("plot: %v", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("plot %s: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plot %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plot: %v", err)
	}
	return nil
}
