package transfer

import (
	"math"
	"testing"
)

func TestNearestCentroidLOO(t *testing.T) {
	feats := func(classes int, shape []int, labels []int, x ...float32) *Features {
		return &Features{X: x, Labels: labels, Shape: shape, Classes: classes}
	}
	for _, c := range []struct {
		name string
		f    *Features
		want float64
	}{
		{"separated", feats(2, []int{1}, []int{0, 0, 0, 1, 1, 1}, 0, 1, 2, 10, 11, 12), 1},
		// With itself in its class's centroid, 3 would be right (1.5 is
		// nearer than 5); left out, its class's centroid is 0 and 3 goes
		// to 5. The others stay right: 3 of 4.
		{"leave one out", feats(2, []int{1}, []int{0, 0, 1, 1}, 0, 3, 4, 6), 0.75},
		// A class of one example has no centroid without it: always wrong.
		{"singleton class", feats(3, []int{1}, []int{0, 0, 1, 1, 2}, 0, 1, 10, 11, 20), 0.8},
		// z-scoring: dimension 0 separates the classes by 2 with tiny
		// spread, dimension 1 is noise a thousand times larger and
		// balanced in each class. Unscaled, leaving an example out moves
		// its class's centroid along the noise by far more than the
		// separation, and every example goes to the other class.
		{"z-scored", feats(2, []int{2}, []int{0, 0, 0, 0, 1, 1, 1, 1},
			-1, -1000, -1, 1000, -1.01, -500, -1.01, 500,
			1, -1000, 1, 1000, 1.01, -500, 1.01, 500), 1},
		{"empty", feats(2, []int{1}, nil), 0},
	} {
		if got := nearestCentroidLOO(c.f); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// probeSet takes at most perClass of each class, counts all of them, and
// draws the same sample for the same seed.
func TestProbeSet(t *testing.T) {
	f := &Features{Shape: []int{1}, Classes: 3}
	for i := 0; i < 30; i++ {
		l := i % 3
		if i >= 27 {
			l = 0
		}
		f.X = append(f.X, float32(i))
		f.Labels = append(f.Labels, l)
	}
	counts, probe, err := probeSet(f, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if counts[0] != 12 || counts[1] != 9 || counts[2] != 9 {
		t.Errorf("counts %v, want [12 9 9]", counts)
	}
	got := make([]int, 3)
	for i, l := range probe.Labels {
		got[l]++
		if int(probe.X[i])%3 != l && probe.X[i] < 27 {
			t.Errorf("probe example %v labelled %d", probe.X[i], l)
		}
	}
	if got[0] != 4 || got[1] != 4 || got[2] != 4 {
		t.Errorf("probe holds %v per class, want 4 each", got)
	}
	_, again, _ := probeSet(f, 4, 7)
	_, other, _ := probeSet(f, 4, 8)
	same := func(a, b *Features) bool {
		for i := range a.X {
			if a.X[i] != b.X[i] {
				return false
			}
		}
		return true
	}
	if !same(probe, again) {
		t.Error("the same seed drew another probe")
	}
	if same(probe, other) {
		t.Error("seeds 7 and 8 drew the same probe")
	}
}

// The race's shortest schedule takes at least MinSteps optimizer steps:
// a power-of-two fraction of the schedule, at most all of it.
func TestMinFraction(t *testing.T) {
	for _, c := range []struct {
		n, batch, steps, head, epochs int
		want                          float64
	}{
		{80, 32, 30, 30, 10, 0.25},        // 3 steps an epoch: 10 epochs of 40
		{160, 32, 30, 30, 10, 0.25},       // 5 an epoch: 6 epochs, 0.15, rounded up
		{5000, 32, 30, 30, 10, 1.0 / 32},  // one epoch is 157 steps: 1/40, rounded up
		{50000, 32, 30, 30, 10, 1.0 / 32}, // never below one epoch
		{200000, 32, 30, 64, 64, 1.0 / 64},
		{10, 32, 30, 30, 10, 1},  // one step an epoch: 30 of 40 epochs
		{10, 32, 100, 30, 10, 1}, // more than the whole schedule: all of it
	} {
		if got := minFraction(c.n, c.batch, c.steps, c.head, c.epochs); got != c.want {
			t.Errorf("minFraction(%d, %d, %d, %d, %d) = %g, want %g", c.n, c.batch, c.steps, c.head, c.epochs, got, c.want)
		}
	}
}
