package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkMNISTFamily checks the sizes, shapes and labels of an MNIST-family
// train/test pair.
func checkMNISTFamily(t *testing.T, train, test *Set, firstLabel int, mean, std float32) {
	t.Helper()
	for _, c := range []struct {
		name string
		s    *Set
		n    int
	}{{"train", train, 60000}, {"test", test, 10000}} {
		s := c.s
		if s.Len() != c.n {
			t.Fatalf("%s: %d examples, want %d", c.name, s.Len(), c.n)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(s.ExampleShape(), []int{28, 28, 1}) || s.NumClasses() != 10 {
			t.Fatalf("%s: shape %v, %d classes", c.name, s.Shape, s.NumClasses())
		}
		sum := 0
		for cl, n := range s.Counts() {
			if n == 0 {
				t.Errorf("%s: class %d has no examples", c.name, cl)
			}
			sum += n
		}
		if sum != c.n {
			t.Errorf("%s: label counts sum to %d, want %d", c.name, sum, c.n)
		}
		if s.Mean[0] != mean || s.Std[0] != std {
			t.Errorf("%s: Mean %v Std %v", c.name, s.Mean, s.Std)
		}
	}
	if train.Labels[0] != firstLabel {
		t.Errorf("first training label = %d, want %d", train.Labels[0], firstLabel)
	}
	// Normalised training pixels have mean ≈ 0 and standard deviation ≈ 1.
	var s1, s2 float64
	for _, v := range train.X {
		s1 += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(train.X))
	if m, v := s1/n, s2/n-(s1/n)*(s1/n); m < -0.01 || m > 0.01 || v < 0.98 || v > 1.02 {
		t.Errorf("normalised training pixels: mean %.4f variance %.4f, want about 0 and 1", m, v)
	}
}

func TestMNIST(t *testing.T) {
	dir, ok := mnistCacheDir()
	if !ok {
		t.Skipf("MNIST not in the Go module cache (run: %s)", mnistDownloadCmd)
	}
	if got, err := MNISTDir(); err != nil || got != dir {
		t.Fatalf("MNISTDir() = %q, %v; want %q", got, err, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, trainImagesName+".gz")); err != nil {
		t.Fatal(err)
	}
	train, test, err := MNIST()
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTFamily(t, train, test, 5, MNISTMean, MNISTStd)
	if train.Classes[5] != "5" {
		t.Errorf("Classes = %v", train.Classes)
	}
}

func TestFashionMNIST(t *testing.T) {
	if name := missingIDXFile(FashionMNISTDir); name != "" {
		t.Skipf("Fashion-MNIST not installed (%s lacks %s; apt-get install -y dataset-fashion-mnist)", FashionMNISTDir, name)
	}
	train, test, err := FashionMNIST()
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTFamily(t, train, test, 9, FashionMNISTMean, FashionMNISTStd)
	if train.Classes[9] != "Ankle boot" {
		t.Errorf("Classes = %v", train.Classes)
	}
}

func TestLoadIDXDir(t *testing.T) {
	dir := t.TempDir()
	pix := testPixels(4 * 2 * 2)
	// Mixed: gzipped training files, plain test files.
	writeFile(t, dir, trainImagesName, idxImages(idxImagesMagic, 4, 2, 2, pix), true)
	writeFile(t, dir, trainLabelsName, idxLabels(idxLabelsMagic, 4, []byte{0, 1, 1, 0}), true)
	writeFile(t, dir, testImagesName, idxImages(idxImagesMagic, 1, 2, 2, pix[:4]), false)
	_, _, err := LoadIDXDir(dir, nil, 0, 1)
	if err == nil || !strings.Contains(err.Error(), testLabelsName) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("missing labels file: err = %v", err)
	}
	writeFile(t, dir, testLabelsName, idxLabels(idxLabelsMagic, 1, []byte{1}), false)
	train, test, err := LoadIDXDir(dir, []string{"x", "y"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 4 || test.Len() != 1 || test.Labels[0] != 1 || test.X[3] != float32(pix[3])/255 {
		t.Fatalf("train %d test %d labels %v X %v", train.Len(), test.Len(), test.Labels, test.X)
	}
}
