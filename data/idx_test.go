package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// gzipBytes compresses b.
func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// idxImages encodes an IDX image file with the given header and payload.
func idxImages(magic, n, h, w uint32, pix []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	b = binary.BigEndian.AppendUint32(b, h)
	b = binary.BigEndian.AppendUint32(b, w)
	return append(b, pix...)
}

// idxLabels encodes an IDX label file.
func idxLabels(magic, n uint32, labels []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, labels...)
}

// writeFile writes b to name in dir, gzipped when gz is set, and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte, gz bool) string {
	t.Helper()
	if gz {
		b = gzipBytes(t, b)
		name += ".gz"
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testPixels returns n·h·w distinct-ish bytes.
func testPixels(n int) []byte {
	pix := make([]byte, n)
	for i := range pix {
		pix[i] = byte(i*37 + 11)
	}
	return pix
}

func TestReadIDX(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		const n, h, w = 5, 4, 3
		pix := testPixels(n * h * w)
		ip := writeFile(t, dir, "img", idxImages(idxImagesMagic, n, h, w, pix), gz)
		lp := writeFile(t, dir, "lab", idxLabels(idxLabelsMagic, n, []byte{0, 1, 2, 1, 0}), gz)
		got, gn, gh, gw, err := ReadIDXImages(ip)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if gn != n || gh != h || gw != w || !bytes.Equal(got, pix) {
			t.Fatalf("gz=%v: got n=%d h=%d w=%d pix equal=%v", gz, gn, gh, gw, bytes.Equal(got, pix))
		}
		lab, err := ReadIDXLabels(lp)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if !bytes.Equal(lab, []byte{0, 1, 2, 1, 0}) {
			t.Fatalf("gz=%v: labels %v", gz, lab)
		}
	}
}

func TestLoadIDX(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		const n, h, w = 6, 2, 3
		pix := testPixels(n * h * w)
		labels := []byte{2, 0, 1, 2, 2, 0}
		ip := writeFile(t, dir, "img", idxImages(idxImagesMagic, n, h, w, pix), gz)
		lp := writeFile(t, dir, "lab", idxLabels(idxLabelsMagic, n, labels), gz)
		const mean, std = 0.25, 0.5
		s, err := LoadIDX(ip, lp, []string{"a", "b", "c"}, mean, std)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.Len() != n || s.NumClasses() != 3 || !slices.Equal(s.ExampleShape(), []int{h, w, 1}) {
			t.Fatalf("Len %d NumClasses %d Shape %v", s.Len(), s.NumClasses(), s.Shape)
		}
		if len(s.Mean) != 1 || s.Mean[0] != mean || len(s.Std) != 1 || s.Std[0] != std {
			t.Fatalf("Mean %v Std %v", s.Mean, s.Std)
		}
		for i, p := range pix {
			want := (float64(p)/255 - mean) / std
			if math.Abs(float64(s.X[i])-want) > 1e-6 {
				t.Fatalf("X[%d] = %v, want %v (pixel %d)", i, s.X[i], want, p)
			}
		}
		for i, l := range labels {
			if s.Labels[i] != int(l) {
				t.Fatalf("Labels = %v, want %v", s.Labels, labels)
			}
		}
		if c := s.Counts(); !slices.Equal(c, []int{2, 1, 3}) {
			t.Fatalf("Counts = %v", c)
		}
	}
}

func TestLoadIDXInferredClasses(t *testing.T) {
	dir := t.TempDir()
	ip := writeFile(t, dir, "img", idxImages(idxImagesMagic, 3, 1, 1, []byte{0, 128, 255}), false)
	lp := writeFile(t, dir, "lab", idxLabels(idxLabelsMagic, 3, []byte{0, 4, 2}), false)
	s, err := LoadIDX(ip, lp, nil, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Classes, ","); got != "0,1,2,3,4" {
		t.Fatalf("Classes = %s", got)
	}
	if s.X[0] != 0 || s.X[2] != 1 {
		t.Fatalf("X = %v", s.X)
	}
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	pix := testPixels(5 * 4 * 3)
	good := idxImages(idxImagesMagic, 5, 4, 3, pix)
	goodGz := gzipBytes(t, good)
	corrupt := append([]byte(nil), goodGz...)
	corrupt[len(corrupt)/2] ^= 0xff
	badCRC := append([]byte(nil), goodGz...)
	badCRC[len(badCRC)-6] ^= 0xff
	labels := writeFile(t, dir, "labels5", idxLabels(idxLabelsMagic, 5, []byte{0, 1, 2, 3, 4}), false)
	images := writeFile(t, dir, "images5", good, false)

	raw := func(name string, b []byte) string { return writeFile(t, dir, name, b, false) }
	cases := []struct {
		name   string
		read   func() error
		path   string
		substr []string
	}{
		{"images wrong magic", nil, raw("labels-as-images", idxLabels(idxLabelsMagic, 5, []byte{1, 2, 3, 4, 5})),
			[]string{"wrong magic", "0x00000801", "expected 0x00000803", "label file"}},
		{"images garbage magic", nil, raw("garbage", []byte("hello, this is not IDX at all")),
			[]string{"wrong magic", "0x68656c6c", "not an IDX file"}},
		{"images empty", nil, raw("empty", nil), []string{"truncated"}},
		{"images short header", nil, raw("shorthdr", good[:10]), []string{"truncated"}},
		{"images truncated data", nil, raw("short", good[:len(good)-7]),
			[]string{"truncated: header says 5 images of 4x3, got only 53 bytes"}},
		{"images truncated data gz", nil, raw("short.gz", gzipBytes(t, good[:len(good)-7])),
			[]string{"truncated: header says 5 images of 4x3, got only 53 bytes"}},
		{"images truncated gzip", nil, raw("cut.gz", goodGz[:len(goodGz)/2]), []string{"truncated gzip"}},
		{"images truncated gzip trailer", nil, raw("cuttrailer.gz", goodGz[:len(goodGz)-4]), []string{"truncated gzip"}},
		{"images truncated gzip header", nil, raw("cuthdr.gz", goodGz[:5]), []string{"truncated gzip"}},
		{"images corrupt gzip", nil, raw("corrupt.gz", corrupt), []string{"gzip"}},
		{"images gzip checksum", nil, raw("crc.gz", badCRC), []string{"corrupt gzip"}},
		{"images absurd header", nil, raw("absurd", idxImages(idxImagesMagic, 0xffffffff, 0xffff, 0xffff, pix)),
			[]string{"4294967295 images of 65535x65535"}},
		{"images absurd header gz", nil, raw("absurd.gz", gzipBytes(t, idxImages(idxImagesMagic, 0xffffffff, 0xffff, 0xffff, pix))),
			[]string{"absurd header", "4294967295 images of 65535x65535"}},
		{"images zero size", nil, raw("zero", idxImages(idxImagesMagic, 5, 0, 3, nil)), []string{"zero"}},
		{"images missing", nil, filepath.Join(dir, "no-such-file"), []string{"no such file"}},
		{"labels wrong magic", func() error { _, err := ReadIDXLabels(images); return err }, images,
			[]string{"wrong magic", "0x00000803", "expected 0x00000801"}},
		{"labels truncated", func() error {
			p := raw("labshort", idxLabels(idxLabelsMagic, 9, []byte{1, 2}))
			_, err := ReadIDXLabels(p)
			return err
		}, filepath.Join(dir, "labshort"), []string{"truncated: header says 9 labels, got only 2 bytes"}},
		{"labels absurd gz", func() error {
			p := raw("lababsurd.gz", gzipBytes(t, idxLabels(idxLabelsMagic, 0xffffffff, []byte{1, 2})))
			_, err := ReadIDXLabels(p)
			return err
		}, filepath.Join(dir, "lababsurd.gz"), []string{"absurd header", "4294967295 labels"}},
		{"labels lying gz", func() error {
			p := raw("labliar.gz", gzipBytes(t, idxLabels(idxLabelsMagic, 1<<30, []byte{1, 2})))
			_, err := ReadIDXLabels(p)
			return err
		}, filepath.Join(dir, "labliar.gz"), []string{"truncated: header says 1073741824 labels, got only 2 bytes"}},
		{"count mismatch", func() error {
			p := raw("labels4", idxLabels(idxLabelsMagic, 4, []byte{0, 1, 2, 3}))
			_, err := LoadIDX(images, p, nil, 0, 1)
			return err
		}, filepath.Join(dir, "labels4"), []string{"count mismatch", images, "5 images", "4 labels"}},
		{"label out of range", func() error {
			_, err := LoadIDX(images, labels, []string{"a", "b", "c"}, 0, 1)
			return err
		}, labels, []string{"label 3 of example 3 out of range: 3 classes"}},
		{"zero std", func() error {
			_, err := LoadIDX(images, labels, nil, 0, 0)
			return err
		}, images, []string{"std"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			read := c.read
			if read == nil {
				read = func() error { _, _, _, _, err := ReadIDXImages(c.path); return err }
			}
			err := read()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.path) {
				t.Errorf("error %q does not name the file %s", msg, c.path)
			}
			for _, s := range c.substr {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
		})
	}
}

// A gzipped file whose header claims 1 GiB but whose stream holds a few
// bytes must fail without allocating the claimed size.
func TestIDXLyingGzipHeaderDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "liar", idxImages(idxImagesMagic, 1<<20, 32, 32, testPixels(1000)), true)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, _, err := ReadIDXImages(p)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated: header says 1048576 images of 32x32, got only 1000 bytes") {
		t.Fatalf("err = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Fatalf("allocated %d bytes for a 1000-byte stream", d)
	}
}

func TestToFloat(t *testing.T) {
	pix := []uint8{0, 255, 51, 255, 0, 102}
	got := ToFloat(pix, []float32{0, 0.5, 1}, []float32{1, 0.5, 2}, 3)
	want := []float64{0, 1, (0.2 - 1) / 2, 1, -1, (0.4 - 1) / 2}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Fatalf("ToFloat = %v, want %v", got, want)
		}
	}
	one := ToFloat(pix, []float32{0.5}, []float32{0.5}, 3)
	if one[0] != -1 || one[1] != 1 {
		t.Fatalf("broadcast ToFloat = %v", one)
	}
}
