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

// progressBar returns an nn progress hook drawing one line per epoch with
// a bar, the loss, the rate and the time left, or nil when w is not a
// terminal or quiet is set.
func progressBar(w io.Writer, epochs int, quiet bool) func(nn.StepInfo) {
	if quiet || !isTerminal(w) {
		return nil
	}
	last := time.Time{}
	return func(s nn.StepInfo) {
		done := s.Step == s.StepsPerEpoch
		if !done && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		const width = 30
		fill := width * s.Step / max(s.StepsPerEpoch, 1)
		rate := float64(s.Images) / max(s.Elapsed.Seconds(), 1e-9)
		left := time.Duration(float64(s.Elapsed) * float64(s.StepsPerEpoch-s.Step) / float64(max(s.Step, 1)))
		of := fmt.Sprint(epochs)
		if epochs <= 0 {
			of = "?" // phases of a transfer run: their count is the recipe's
		}
		fmt.Fprintf(w, "\repoch %d/%s [%s%s] %d/%d loss %.4f %.0f images/s ETA %s ",
			s.Epoch, of, strings.Repeat("#", fill), strings.Repeat(".", width-fill), s.Step, s.StepsPerEpoch,
			s.Loss, rate, left.Round(time.Second))
		if done {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}
