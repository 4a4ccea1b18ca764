package data

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDigits(t *testing.T) {
	s, err := LoadDigits(filepath.Join("..", "testdata", "digits", "digits.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1797 || s.NumClasses() != 10 || len(s.X) != 1797*28*28 {
		t.Fatalf("%d digits, %d classes, %d floats", s.Len(), s.NumClasses(), len(s.X))
	}
	if s.Labels[0] != 0 || s.Labels[1] != 1 {
		t.Errorf("first labels %v, want 0 1", s.Labels[:2])
	}
	bg := float32((0 - MNISTMean) / MNISTStd)
	for _, p := range []int{0, 27, 28*4 - 1, 28 * 27} { // the 4-pixel border is background
		if s.X[p] != bg {
			t.Errorf("pixel %d = %v, want background %v", p, s.X[p], bg)
		}
	}
	for _, c := range s.Counts() {
		if c < 170 {
			t.Errorf("class counts %v", s.Counts())
			break
		}
	}
	for _, bad := range []string{"1,2,3\n", strings.Repeat("0,", 64) + "10\n", strings.Repeat("17,", 64) + "1\n"} {
		if _, err := ReadDigits(strings.NewReader(bad), "bad.csv"); err == nil || !strings.Contains(err.Error(), "bad.csv") {
			t.Errorf("ReadDigits(%q) = %v, want an error naming the file", bad[:10], err)
		}
	}
}

func TestResize(t *testing.T) {
	src := []float32{0, 1, 2, 3} // 2×2
	dst := make([]float32, 16)
	Resize(dst, 4, 4, src, 2, 2, 1)
	// PyTorch: F.interpolate(torch.tensor([[[[0.,1],[2,3]]]]), size=4, mode="bilinear", align_corners=False)
	want := []float32{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("Resize = %v, want %v", dst, want)
		}
	}
}
