package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/graftml/graft/nn"
)

// plotHistory writes loss and accuracy curves per epoch (training and
// held-out) to a PNG file: a title, then two panels side by side, each
// with room kept free for its legend (above the loss curves, below the
// accuracy curves), so the legend never covers a curve.
func plotHistory(path, title string, epochs []nn.EpochStats) error {
	if len(epochs) == 0 {
		return fmt.Errorf("plot %s: no epochs to plot", path)
	}
	series := func(get func(nn.EpochStats) float64) plotter.XYs {
		xy := make(plotter.XYs, 0, len(epochs))
		for _, e := range epochs {
			if v := get(e); !math.IsNaN(v) && !math.IsInf(v, 0) { // no validation data: no point
				xy = append(xy, plotter.XY{X: float64(e.Epoch), Y: v})
			}
		}
		return xy
	}
	panel := func(name, ylabel string, legendTop bool, train, val plotter.XYs) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = name, "epoch", ylabel
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, s := range []struct {
			name string
			xy   plotter.XYs
		}{{"training", train}, {"held out", val}} {
			if len(s.xy) == 0 {
				continue
			}
			for _, pt := range s.xy {
				lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
			}
			l, pts, err := plotter.NewLinePoints(s.xy)
			if err != nil {
				return nil, err
			}
			l.Color, pts.Color = plotColors[i], plotColors[i]
			p.Add(l, pts)
			p.Legend.Add(s.name, l, pts)
		}
		// The legend's two lines take about a quarter of the panel: keep
		// that quarter free of data.
		span := math.Max(hi-lo, 1e-3)
		if legendTop {
			p.Y.Min, p.Y.Max = math.Min(0, lo), hi+0.4*span
		} else {
			p.Y.Min, p.Y.Max = lo-0.4*span, hi+0.02*span
		}
		p.X.Min, p.X.Max = float64(epochs[0].Epoch)-0.2, float64(epochs[len(epochs)-1].Epoch)+0.2
		p.Legend.Top = legendTop
		p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(4)
		if legendTop {
			p.Legend.YOffs = -vg.Points(4)
		}
		return p, nil
	}
	loss, err := panel("loss", "cross-entropy", true, series(func(e nn.EpochStats) float64 { return e.TrainLoss }),
		series(func(e nn.EpochStats) float64 { return e.ValLoss }))
	if err != nil {
		return fmt.Errorf("plot %s: %v", path, err)
	}
	acc, err := panel("accuracy", "accuracy", false, series(func(e nn.EpochStats) float64 { return e.TrainAcc }),
		series(func(e nn.EpochStats) float64 { return e.ValAcc }))
	if err != nil {
		return fmt.Errorf("plot %s: %v", path, err)
	}
	img := vgimg.New(12*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	sty := loss.Title.TextStyle
	sty.Font.Size = vg.Points(15)
	sty.XAlign, sty.YAlign = text.XCenter, text.YTop
	dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Points(8)}, title)
	body := draw.Crop(dc, 0, 0, 0, -vg.Inch/2)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8, PadBottom: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{loss, acc}}, tiles, body)
	loss.Draw(canvases[0][0])
	acc.Draw(canvases[0][1])
	return savePNG(path, img)
}

var plotColors = []color.Color{color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255}}

// savePNG writes the canvas as PNG atomically (a temporary file renamed),
// readable by all (0644, as checkpoints are).
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
	if err := tmp.Chmod(0o644); err != nil {
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
