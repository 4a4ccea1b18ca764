package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/graftml/graft/nn"
)

// isTerminal reports whether w is a character device (a terminal): progress
// bars are drawn only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws a bar on one terminal line, redrawn in place; on
// anything but a terminal, or when quiet, it draws nothing.
type progress struct {
	w     io.Writer
	on    bool
	drawn bool // a bar is on the line now
	last  time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, on: !quiet && isTerminal(w)}
}

// clear erases a bar drawn on the current line, so that what is printed
// next starts a line of its own.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// phase is one stage of a run with its own epochs: a head trained on
// cached features, then the unfrozen groups on images.
type phase struct {
	name   string // "head on cached features"
	epochs int
	unit   string // what the rate counts: "images" or "features"
}

// epochs returns the nn progress hook of a single-phase run of total
// epochs (nil when nothing is drawn).
func (p *progress) epochs(total int) func(nn.StepInfo) {
	return p.phases([]phase{{epochs: total, unit: "images"}})
}

// phases returns the progress hook of a run in phases, which Fit reports
// one after another, each counting epochs from 1.
func (p *progress) phases(ph []phase) func(nn.StepInfo) {
	if !p.on || len(ph) == 0 {
		return nil
	}
	i, started := 0, false
	return func(s nn.StepInfo) {
		if s.Epoch == 1 && s.Step == 1 && started && i < len(ph)-1 {
			i++
		}
		started = true
		done := s.Step == s.StepsPerEpoch
		if !done && time.Since(p.last) < 100*time.Millisecond {
			return
		}
		p.last = time.Now()
		cur := ph[i]
		label := ""
		if len(ph) > 1 {
			label = fmt.Sprintf("phase %d/%d %s, ", i+1, len(ph), cur.name)
		}
		const width = 30
		fill := width * s.Step / max(s.StepsPerEpoch, 1)
		rate := float64(s.Images) / max(s.Elapsed.Seconds(), 1e-9)
		left := time.Duration(float64(s.Elapsed) * float64(s.StepsPerEpoch-s.Step) / float64(max(s.Step, 1)))
		fmt.Fprintf(p.w, "\r%sepoch %d/%d [%s%s] %d/%d loss %.4f %s %s/s ETA %s \033[K",
			label, s.Epoch, cur.epochs, strings.Repeat("#", fill), strings.Repeat(".", width-fill), s.Step, s.StepsPerEpoch,
			s.Loss, humanRate(rate), cur.unit, left.Round(time.Second))
		p.drawn = true
		if done {
			p.clear()
		}
	}
}

// humanRate writes a rate with a k or M suffix.
func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.0fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// progressBar returns the progress hook of a single-phase run of epochs
// drawn on w (nil when w is not a terminal or quiet is set). Commands that
// print after training should keep the *progress (newProgress) and clear
// it first, so that what they print starts a line of its own.
func progressBar(w io.Writer, epochs int, quiet bool) func(nn.StepInfo) {
	return newProgress(w, quiet).epochs(epochs)
}
