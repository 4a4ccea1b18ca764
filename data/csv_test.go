package data

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadCSV(t *testing.T) {
	// 2x1 images with 3 channels: 6 pixel values per row.
	text := "label,p0,p1,p2,p3,p4,p5\r\n" +
		"1,0,255,51,255,0,102\r\n" +
		"\r\n" +
		"0, 10 ,20,30,40,50,60\n" +
		"1,1,2,3,4,5,6" // no final newline
	mean := []float32{0, 0.5, 1}
	std := []float32{1, 0.5, 2}
	for _, gz := range []bool{false, true} {
		p := writeFile(t, t.TempDir(), "table.csv", []byte(text), gz)
		s, err := LoadCSV(p, 2, 1, 3, []string{"neg", "pos"}, mean, std)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.Len() != 3 || !slices.Equal(s.Labels, []int{1, 0, 1}) || !slices.Equal(s.Shape, []int{2, 1, 3}) {
			t.Fatalf("Len %d Labels %v Shape %v", s.Len(), s.Labels, s.Shape)
		}
		rows := [][]float64{{0, 255, 51, 255, 0, 102}, {10, 20, 30, 40, 50, 60}, {1, 2, 3, 4, 5, 6}}
		for r, row := range rows {
			for i, v := range row {
				ch := i % 3
				want := (v/255 - float64(mean[ch])) / float64(std[ch])
				if got := s.X[r*6+i]; math.Abs(float64(got)-want) > 1e-6 {
					t.Fatalf("gz=%v: X[%d][%d] = %v, want %v", gz, r, i, got, want)
				}
			}
		}
		if len(s.Mean) != 3 || len(s.Std) != 3 || s.Std[2] != 2 {
			t.Fatalf("Mean %v Std %v", s.Mean, s.Std)
		}
	}
}

func TestLoadCSVNoHeaderBroadcastNorm(t *testing.T) {
	p := writeFile(t, t.TempDir(), "t.csv", []byte("2,0,255\n0,255.0,0\n"), false)
	s, err := LoadCSV(p, 1, 2, 1, nil, []float32{0.5}, []float32{0.5})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.NumClasses() != 3 || s.X[0] != -1 || s.X[1] != 1 || s.X[2] != 1 {
		t.Fatalf("Len %d classes %v X %v", s.Len(), s.Classes, s.X)
	}
}

func TestLoadCSVErrors(t *testing.T) {
	dir := t.TempDir()
	okGz := gzipBytes(t, []byte(strings.Repeat("1,2,3,4,5\n", 200)))
	cases := []struct {
		name, text string
		raw        []byte
		substr     []string
	}{
		{"field count", "label,a,b,c,d\n0,1,2,3,4\n1,2,3\n", nil, []string{"line 3", "3 fields, want 5"}},
		{"non-numeric", "0,1,2,3,4\n1,2,x3,4,5\n", nil, []string{"line 2", "field 3", `"x3"`, "not an integer"}},
		{"empty field", "0,1,,3,4\n", nil, []string{"line 1", "field 3"}},
		{"pixel too big", "0,1,2,3,4\n\n1,2,3,256,5\n", nil, []string{"line 3", "field 4", "256 out of range 0..255"}},
		{"pixel negative", "0,-1,2,3,4\n", nil, []string{"line 1", "-1 out of range"}},
		{"pixel fractional", "0,1.5,2,3,4\n", nil, []string{"line 1", `"1.5"`}},
		{"label too big", "0,1,2,3,4\n3,1,2,3,4\n", nil, []string{"line 2", "label 3 out of range: 3 classes"}},
		{"label negative", "-1,1,2,3,4\n", nil, []string{"line 1", "label -1 out of range"}},
		{"label not integer", "0,1,2,3,4\ncat,1,2,3,4\n", nil, []string{"line 2", "field 1 (label)", `"cat"`}},
		{"header only", "label,a,b,c,d\n", nil, []string{"no data rows"}},
		{"empty", "", nil, []string{"no data rows"}},
		{"truncated gzip", "", okGz[:len(okGz)/2], []string{"truncated gzip"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.raw
			if b == nil {
				b = []byte(c.text)
			}
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".csv")
			p = writeFile(t, dir, filepath.Base(p), b, false)
			_, err := LoadCSV(p, 2, 2, 1, []string{"a", "b", "c"}, []float32{0}, []float32{1})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("error %q does not name the file %s", msg, p)
			}
			for _, s := range c.substr {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
		})
	}
	// Argument errors name the file too.
	p := filepath.Join(dir, "args.csv")
	if _, err := LoadCSV(p, 2, 2, 3, nil, []float32{0, 0}, []float32{1}); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("mean of wrong length: err = %v", err)
	}
	if _, err := LoadCSV(p, 0, 2, 1, nil, []float32{0}, []float32{1}); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("zero height: err = %v", err)
	}
	if _, err := LoadCSV(p, 2, 2, 1, nil, []float32{0}, []float32{1}); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("missing file: err = %v", err)
	}
}
