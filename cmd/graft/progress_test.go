package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/transfer"
)

// finetune's bar names the phase, counts its epochs against their total,
// and names what its rate counts; clear leaves the line empty.
func TestProgressPhases(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := &progress{w: &b, on: true}
	hook := p.phases([]phase{{"head on cached features", 3, "features"}, {"top 2 groups", 2, "images"}})
	step := func(epoch, s int) {
		hook(nn.StepInfo{Epoch: epoch, Step: s, StepsPerEpoch: 4, Loss: 0.5, Images: 2_000_000 * s, Elapsed: time.Duration(s) * time.Second})
		p.last = time.Time{} // draw every step
	}
	step(1, 1)
	step(1, 4)
	step(2, 1)
	step(3, 2)
	if !strings.Contains(b.String(), "phase 1/2 head on cached features, epoch 3/3 [###############...............] 2/4 loss 0.5000 2.0M features/s ETA 2s") {
		t.Errorf("phase 1 drew %q", b.String())
	}
	b.Reset()
	step(1, 1) // the second phase starts its epochs at 1 again
	if !strings.Contains(b.String(), "phase 2/2 top 2 groups, epoch 1/2 [#######.......................] 1/4 loss 0.5000 2.0M images/s") {
		t.Errorf("phase 2 drew %q", b.String())
	}
	b.Reset()
	p.clear()
	if b.String() != "\r\033[K" || p.drawn {
		t.Errorf("clear wrote %q", b.String())
	}
	b.Reset()
	p.clear()
	if b.Len() != 0 {
		t.Errorf("a second clear wrote %q", b.String())
	}
	// Not a terminal: no hook.
	if newProgress(&b, false).epochs(3) != nil || newProgress(os.Stdout, true).epochs(3) != nil {
		t.Error("a bar on a buffer, or with --quiet")
	}
}

func TestPhasesOf(t *testing.T) {
	t.Parallel()
	m := models.MNISTCNN(models.Options{})
	name := func(ph []phase) string {
		var s []string
		for _, p := range ph {
			s = append(s, p.name+"/"+p.unit+"/"+string(rune('0'+p.epochs)))
		}
		return strings.Join(s, ", ")
	}
	for _, c := range []struct {
		o    transfer.Options
		want string
	}{
		{transfer.Options{Strategy: transfer.StrategyFeatures, HeadEpochs: 5, Epochs: 3}, "head on cached features/features/5"},
		{transfer.Options{Strategy: transfer.StrategyTopK, TopK: 2, HeadEpochs: 5, Epochs: 3}, "head on cached features/features/5, top 2 groups on cached features/features/3"},
		{transfer.Options{Strategy: transfer.StrategyAll, HeadEpochs: 5, Epochs: 3}, "head on cached features/features/5, all groups/images/3"},
		{transfer.Options{Strategy: transfer.StrategyAll, HeadEpochs: -1, Epochs: 3}, "all groups/images/3"},
		{transfer.Options{Strategy: transfer.StrategyScratch, HeadEpochs: 5, Epochs: 3}, "from scratch/images/8"},
	} {
		if got := name(phasesOf(c.o, m)); got != c.want {
			t.Errorf("%+v: phases %s, want %s", c.o, got, c.want)
		}
	}
}

// The README's command-line synopsis names only commands and flags the
// binary has.
func TestReadmeUsage(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Command line\n\n```sh\n")
	if i < 0 {
		t.Fatal("README has no command-line synopsis")
	}
	block := s[i+len("## Command line\n\n```sh\n"):]
	block = block[:strings.Index(block, "```")]
	cmd := ""
	seen := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "graft" {
			cmd = f[1]
		}
		line, _, _ = strings.Cut(line, "#")
		if cmd == "" {
			continue
		}
		c, ok := commands[cmd]
		if !ok {
			t.Errorf("README: graft %s is no command", cmd)
			continue
		}
		seen[cmd] = true
		fs := captureFlags(t, c)
		for _, m := range regexp.MustCompile(`--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(line, -1) {
			if fs.Lookup(m[1]) == nil {
				t.Errorf("README: graft %s --%s: no such flag", cmd, m[1])
			}
		}
	}
	for _, name := range []string{"demo", "train", "finetune", "advise", "predict", "info", "bench", "help", "version"} {
		if !seen[name] {
			t.Errorf("README's synopsis lacks graft %s", name)
		}
	}
}
