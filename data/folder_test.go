package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// solid returns a w×h RGBA image of one colour.
func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// writeImage encodes img to path as format ("png", "jpeg" or "gif"),
// creating the folders on the way.
func writeImage(t *testing.T, path, format string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 100})
	case "gif":
		err = gif.Encode(&b, img, nil)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	writeRaw(t, path, b.Bytes())
}

// writeRaw writes data to path, creating the folders on the way.
func writeRaw(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	red   = color.RGBA{255, 0, 0, 255}
	green = color.RGBA{0, 255, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
	odd   = color.RGBA{255, 0, 51, 255}
)

// folderFixture builds a 3-class folder: a_cat (two PNGs, the first solid
// odd, the second with one marked pixel), b_dog (a JPEG and a GIF), c_bird
// (a PNG), plus hidden litter. Folders are created out of order.
func folderFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "c_bird", "1.png"), "png", solid(4, 4, blue))
	writeImage(t, filepath.Join(dir, "b_dog", "1.jpg"), "jpeg", solid(8, 8, color.RGBA{200, 100, 50, 255}))
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{green, red})
	pal.SetColorIndex(3, 0, 1)
	writeImage(t, filepath.Join(dir, "b_dog", "2.gif"), "gif", pal)
	writeImage(t, filepath.Join(dir, "a_cat", "x1.png"), "png", solid(4, 4, odd))
	marked := solid(4, 4, color.RGBA{0, 0, 0, 255})
	marked.SetRGBA(1, 2, color.RGBA{10, 20, 30, 255})
	writeImage(t, filepath.Join(dir, "a_cat", "x2.png"), "png", marked)
	writeRaw(t, filepath.Join(dir, "c_bird", ".DS_Store"), []byte("junk"))
	writeRaw(t, filepath.Join(dir, "a_cat", "Thumbs.db"), []byte("junk"))
	writeRaw(t, filepath.Join(dir, ".hidden", "x.txt"), []byte("junk"))
	writeRaw(t, filepath.Join(dir, "b_dog", ".git", "x.txt"), []byte("junk"))
	return dir
}

// pixelAt returns the channels of pixel (x, y) of example i of s.
func pixelAt(s *Set, i, x, y int) []float32 {
	h, w, c := s.Shape[0], s.Shape[1], s.Shape[2]
	e := s.X[i*h*w*c:]
	return e[(y*w+x)*c : (y*w+x+1)*c]
}

func TestLoadFolderRGB(t *testing.T) {
	dir := folderFixture(t)
	s, warns, err := LoadFolder(dir, FolderOptions{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings %q, want none", warns)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a_cat", "b_dog", "c_bird"}; !slices.Equal(s.Classes, want) {
		t.Errorf("classes %q, want %q", s.Classes, want)
	}
	if want := []int{0, 0, 1, 1, 2}; !slices.Equal(s.Labels, want) {
		t.Errorf("labels %v, want %v", s.Labels, want)
	}
	if want := []int{4, 4, 3}; !slices.Equal(s.Shape, want) {
		t.Errorf("shape %v, want %v", s.Shape, want)
	}
	if want := []float32{0.5, 0.5, 0.5}; !slices.Equal(s.Mean, want) || !slices.Equal(s.Std, want) {
		t.Errorf("mean %v std %v, want 0.5 per channel", s.Mean, s.Std)
	}
	// Example 0 is solid odd: (255, 0, 51) → 1, −1, −0.6.
	want := ToFloat([]uint8{255, 0, 51}, s.Mean, s.Std, 3)
	for y := range 4 {
		for x := range 4 {
			if got := pixelAt(s, 0, x, y); !slices.Equal(got, want) {
				t.Fatalf("example 0 pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	if math.Abs(float64(want[2])+0.6) > 1e-6 {
		t.Errorf("normalised 51 = %v, want −0.6", want[2])
	}
	// Example 1 has one marked pixel at x=1, y=2 (HWC order).
	mark := ToFloat([]uint8{10, 20, 30}, s.Mean, s.Std, 3)
	black := ToFloat([]uint8{0, 0, 0}, s.Mean, s.Std, 3)
	for y := range 4 {
		for x := range 4 {
			w := black
			if x == 1 && y == 2 {
				w = mark
			}
			if got := pixelAt(s, 1, x, y); !slices.Equal(got, w) {
				t.Errorf("example 1 pixel (%d,%d) = %v, want %v", x, y, got, w)
			}
		}
	}
	// Example 2: the JPEG (lossy), downscaled 8→4.
	jp := ToFloat([]uint8{200, 100, 50}, s.Mean, s.Std, 3)
	for ch, v := range pixelAt(s, 2, 2, 2) {
		if math.Abs(float64(v-jp[ch])) > 0.05 {
			t.Errorf("JPEG pixel channel %d = %v, want about %v", ch, v, jp[ch])
		}
	}
	// Example 3: the GIF, green with one red pixel at (3, 0).
	if got, w := pixelAt(s, 3, 3, 0), ToFloat([]uint8{255, 0, 0}, s.Mean, s.Std, 3); !slices.Equal(got, w) {
		t.Errorf("GIF pixel (3,0) = %v, want %v", got, w)
	}
	if got, w := pixelAt(s, 3, 0, 0), ToFloat([]uint8{0, 255, 0}, s.Mean, s.Std, 3); !slices.Equal(got, w) {
		t.Errorf("GIF pixel (0,0) = %v, want %v", got, w)
	}
}

func TestLoadFolderGrey(t *testing.T) {
	dir := folderFixture(t)
	mean, std := []float32{MNISTMean}, []float32{MNISTStd}
	s, _, err := LoadFolder(dir, FolderOptions{Size: 4, Grey: true, Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{4, 4, 1}; !slices.Equal(s.Shape, want) || len(s.X) != 5*16 {
		t.Fatalf("shape %v with %d values, want %v with 80", s.Shape, len(s.X), want)
	}
	// Luma of (255, 0, 51): (19595·255 + 7471·51 + 2¹⁵) >> 16 = 82.
	l := uint8((19595*255 + 7471*51 + 1<<15) >> 16)
	if l != 82 {
		t.Fatalf("luma %d, want 82", l)
	}
	want := ToFloat([]uint8{l}, mean, std, 1)[0]
	if got := pixelAt(s, 0, 2, 3)[0]; got != want {
		t.Errorf("grey pixel = %v, want %v", got, want)
	}
	if got, w := pixelAt(s, 4, 0, 0)[0], ToFloat([]uint8{29}, mean, std, 1)[0]; got != w { // blue: 7471·255 → 29
		t.Errorf("grey blue pixel = %v, want %v", got, w)
	}
	if !slices.Equal(s.Mean, mean) || !slices.Equal(s.Std, std) {
		t.Errorf("recorded mean %v std %v, want %v %v", s.Mean, s.Std, mean, std)
	}
}

// bands returns a w×h image whose columns (or rows when vertical) are red
// below a, green from a to b and blue from b on.
func bands(w, h, a, b int, vertical bool) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			p := x
			if vertical {
				p = y
			}
			c := green
			if p < a {
				c = red
			} else if p >= b {
				c = blue
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func TestPreprocessResizeCrop(t *testing.T) {
	m, s := []float32{0.5}, []float32{0.5}
	g := ToFloat([]uint8{0, 255, 0}, m, s, 3)
	// 24×8 → shorter side 4: 12×4, centre crop columns 4..7 = source
	// columns 8..15, all green (red and blue bands lie outside, beyond the
	// filter's reach). Squashing to 4×4 instead would show red and blue.
	for _, img := range []*image.RGBA{bands(24, 8, 6, 18, false), bands(8, 24, 6, 18, true)} {
		out := Preprocess(img, 4, false, m, s)
		if len(out) != 48 {
			t.Fatalf("%v: %d values, want 48", img.Bounds(), len(out))
		}
		for i := 0; i < 48; i += 3 {
			if !slices.Equal(out[i:i+3], g) {
				t.Fatalf("%v: pixel %d = %v, want green %v (not resized by the shorter side and centre-cropped?)", img.Bounds(), i/3, out[i:i+3], g)
			}
		}
	}
	// Exact crop, no resampling: 9×4 columns c have values 10c; the
	// offset round((9−4)/2) = round(2.5) = 2 (Python's round, half to
	// even), so columns 2..5.
	img := image.NewGray(image.Rect(0, 0, 9, 4))
	for y := range 4 {
		for x := range 9 {
			img.SetGray(x, y, color.Gray{uint8(10 * x)})
		}
	}
	out := Preprocess(img, 4, true, m, s)
	for y := range 4 {
		for x := range 4 {
			if want := ToFloat([]uint8{uint8(10 * (x + 2))}, m, s, 1)[0]; out[y*4+x] != want {
				t.Fatalf("crop pixel (%d,%d) = %v, want %v (column %d)", x, y, out[y*4+x], want, x+2)
			}
		}
	}
	// A sub-image (non-zero origin) and a transparent pixel: alpha is
	// dropped, the colour kept (PIL's convert("RGB")).
	nrgba := image.NewNRGBA(image.Rect(0, 0, 6, 6))
	for i := 0; i < len(nrgba.Pix); i += 4 {
		copy(nrgba.Pix[i:i+4], []uint8{255, 0, 51, 255})
	}
	nrgba.SetNRGBA(3, 3, color.NRGBA{10, 20, 30, 0})
	out = Preprocess(nrgba.SubImage(image.Rect(2, 2, 5, 5)), 3, false, m, s)
	if got, want := out[4*3:5*3], ToFloat([]uint8{10, 20, 30}, m, s, 3); !slices.Equal(got, want) {
		t.Errorf("transparent centre pixel = %v, want its colour %v", got, want)
	}
	if got, want := out[0:3], ToFloat([]uint8{255, 0, 51}, m, s, 3); !slices.Equal(got, want) {
		t.Errorf("sub-image corner = %v, want %v", got, want)
	}
	// Upscaling a solid image stays solid.
	out = Preprocess(solid(3, 5, odd), 8, false, m, s)
	want := ToFloat([]uint8{255, 0, 51}, m, s, 3)
	for i := 0; i < len(out); i += 3 {
		if !slices.Equal(out[i:i+3], want) {
			t.Fatalf("upscaled solid pixel %d = %v, want %v", i/3, out[i:i+3], want)
		}
	}
}

func TestLoadFolderResizesNonSquare(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "wide", "a.png"), "png", bands(24, 8, 6, 18, false))
	writeImage(t, filepath.Join(dir, "tall", "a.png"), "png", bands(8, 24, 6, 18, true))
	s, _, err := LoadFolder(dir, FolderOptions{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := Preprocess(bands(24, 8, 6, 18, false), 4, false, s.Mean, s.Std)
	if !slices.Equal(s.X[48:], want) { // "wide" sorts after "tall"
		t.Errorf("LoadFolder's example differs from Preprocess's")
	}
}

func TestLoadImage(t *testing.T) {
	dir := folderFixture(t)
	s, _, err := LoadFolder(dir, FolderOptions{Size: 3, Grey: true})
	if err != nil {
		t.Fatal(err)
	}
	x, err := LoadImage(filepath.Join(dir, "b_dog", "2.gif"), 3, true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x, s.X[3*9:4*9]) {
		t.Errorf("LoadImage = %v, LoadFolder's example %v", x, s.X[3*9:4*9])
	}
	bad := filepath.Join(dir, "notes.txt")
	writeRaw(t, bad, []byte("hello"))
	for _, p := range []string{bad, filepath.Join(dir, "missing.png")} {
		_, err := LoadImage(p, 3, true, nil, nil)
		var fe *FileError
		if !errors.As(err, &fe) || fe.Path != p {
			t.Errorf("LoadImage(%s): error %v, want a FileError naming the file", p, err)
		}
	}
	if _, err := LoadImage(filepath.Join(dir, "b_dog", "2.gif"), 0, true, nil, nil); err == nil {
		t.Error("size 0: no error")
	}
	if _, err := LoadImage(filepath.Join(dir, "b_dog", "2.gif"), 3, false, []float32{1, 2}, nil); err == nil {
		t.Error("2 means for 3 channels: no error")
	}
}

// truncatedPNG returns a PNG file cut short after its header.
func truncatedPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, solid(16, 16, odd)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()[:40]
}

func TestLoadFolderSkipsNonImages(t *testing.T) {
	dir := folderFixture(t)
	notes := filepath.Join(dir, "a_cat", "notes.txt")
	broken := filepath.Join(dir, "b_dog", "sub", "broken.png")
	writeRaw(t, notes, []byte("not an image"))
	writeRaw(t, broken, truncatedPNG(t))
	writeRaw(t, filepath.Join(dir, "README"), []byte("top-level file"))
	nested := filepath.Join(dir, "c_bird", "deeper", "2.png")
	writeImage(t, nested, "png", solid(4, 4, red))

	s, warns, err := LoadFolder(dir, FolderOptions{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0, 1, 1, 2, 2}; !slices.Equal(s.Labels, want) {
		t.Errorf("labels %v, want %v (nested image included, bad files skipped)", s.Labels, want)
	}
	if len(warns) != 3 {
		t.Fatalf("warnings %q, want 3", warns)
	}
	for i, want := range []string{"README", notes, broken} {
		if !strings.Contains(warns[i], want) {
			t.Errorf("warning %d = %q, want it to name %s", i, warns[i], want)
		}
	}
	if !strings.Contains(warns[1], "not a PNG, JPEG or GIF") || !strings.Contains(warns[2], "corrupt PNG") {
		t.Errorf("warnings %q do not say what is wrong", warns)
	}

	// Strict: the first bad file in class order is an error.
	_, _, err = LoadFolder(dir, FolderOptions{Size: 4, Strict: true})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != notes {
		t.Errorf("strict: error %v, want a FileError naming %s", err, notes)
	}
	if err := os.Remove(notes); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadFolder(dir, FolderOptions{Size: 4, Strict: true})
	if !errors.As(err, &fe) || fe.Path != broken || !strings.Contains(err.Error(), "corrupt PNG") {
		t.Errorf("strict: error %v, want a FileError naming %s as corrupt", err, broken)
	}
}

func TestLoadFolderClasses(t *testing.T) {
	dir := folderFixture(t)
	s, warns, err := LoadFolder(dir, FolderOptions{Size: 4, Classes: []string{"zebra", "c_bird", "a_cat", "b_dog"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 2, 3, 3}; !slices.Equal(s.Labels, want) {
		t.Errorf("labels %v, want %v (the given class order)", s.Labels, want)
	}
	if len(s.Classes) != 4 || len(warns) != 1 || !strings.Contains(warns[0], `"zebra"`) {
		t.Errorf("classes %q, warnings %q: want 4 classes and a warning for zebra's missing folder", s.Classes, warns)
	}
	_, _, err = LoadFolder(dir, FolderOptions{Size: 4, Classes: []string{"a_cat", "b_dog"}})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != filepath.Join(dir, "c_bird") {
		t.Errorf("folder outside Classes: error %v, want a FileError naming c_bird", err)
	}
	for _, bad := range [][]string{{"a_cat", "a_cat"}, {"a_cat", ""}, {"x/y"}} {
		if _, _, err := LoadFolder(dir, FolderOptions{Size: 4, Classes: bad}); err == nil {
			t.Errorf("Classes %q: no error", bad)
		}
	}
}

func TestLoadFolderErrors(t *testing.T) {
	fixture := folderFixture(t)
	type check struct {
		name string
		dir  string
		path string // the path the FileError must name
		text string // part of the message
	}
	var checks []check

	missing := filepath.Join(t.TempDir(), "nope")
	checks = append(checks, check{"missing", missing, missing, "no such file"})

	file := filepath.Join(t.TempDir(), "file.png")
	writeImage(t, file, "png", solid(2, 2, red))
	checks = append(checks, check{"not a directory", file, file, "not a directory"})

	flat := t.TempDir()
	writeImage(t, filepath.Join(flat, "a.png"), "png", solid(2, 2, red))
	writeRaw(t, filepath.Join(flat, ".hidden", "b.png"), nil)
	checks = append(checks, check{"no class folders", flat, flat, "no class sub-folders"})

	empty := t.TempDir()
	writeImage(t, filepath.Join(empty, "a", "1.png"), "png", solid(2, 2, red))
	writeRaw(t, filepath.Join(empty, "b", ".DS_Store"), nil)
	checks = append(checks, check{"empty class", empty, filepath.Join(empty, "b"), `class "b" has no images`})

	junk := t.TempDir()
	writeImage(t, filepath.Join(junk, "a", "1.png"), "png", solid(2, 2, red))
	writeRaw(t, filepath.Join(junk, "b", "1.txt"), []byte("text"))
	checks = append(checks, check{"class of non-images", junk, filepath.Join(junk, "b"), "all 1 files were skipped"})

	dangling := t.TempDir()
	writeImage(t, filepath.Join(dangling, "a", "1.png"), "png", solid(2, 2, red))
	if err := os.Symlink(filepath.Join(dangling, "gone"), filepath.Join(dangling, "b")); err != nil {
		t.Fatal(err)
	}
	checks = append(checks, check{"dangling class link", dangling, filepath.Join(dangling, "b"), "cannot follow link"})

	brokenFile := t.TempDir()
	writeImage(t, filepath.Join(brokenFile, "a", "1.png"), "png", solid(2, 2, red))
	if err := os.Symlink(filepath.Join(brokenFile, "gone.png"), filepath.Join(brokenFile, "a", "2.png")); err != nil {
		t.Fatal(err)
	}
	checks = append(checks, check{"dangling file link", brokenFile, filepath.Join(brokenFile, "a", "2.png"), "cannot follow link"})

	if os.Geteuid() != 0 {
		locked := t.TempDir()
		writeImage(t, filepath.Join(locked, "a", "1.png"), "png", solid(2, 2, red))
		writeImage(t, filepath.Join(locked, "b", "1.png"), "png", solid(2, 2, red))
		if err := os.Chmod(filepath.Join(locked, "b"), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(locked, "b"), 0o755) })
		checks = append(checks, check{"unreadable class", locked, filepath.Join(locked, "b"), "cannot read class folder"})
		lockedDir := t.TempDir()
		if err := os.Chmod(lockedDir, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(lockedDir, 0o755) })
		checks = append(checks, check{"unreadable folder", lockedDir, lockedDir, "cannot read image folder"})
	}

	for _, c := range checks {
		s, _, err := LoadFolder(c.dir, FolderOptions{Size: 4})
		var fe *FileError
		if !errors.As(err, &fe) || fe.Path != c.path || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, %v; want a FileError naming %s saying %q", c.name, s, err, c.path, c.text)
		}
	}

	// Invalid options.
	for _, o := range []FolderOptions{
		{Size: 0},
		{Size: -3},
		{Size: MaxImageSide + 1},
		{Size: 4, Mean: []float32{0.1, 0.2}},
		{Size: 4, Grey: true, Mean: []float32{0.1, 0.2, 0.3}},
		{Size: 4, Std: []float32{0}},
		{Size: 4, Mean: []float32{float32(math.NaN())}},
	} {
		if _, _, err := LoadFolder(fixture, o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
}

func TestLoadFolderLinkedClass(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	writeImage(t, filepath.Join(dir, "a", "1.png"), "png", solid(2, 2, red))
	writeImage(t, filepath.Join(other, "1.png"), "png", solid(2, 2, blue))
	writeImage(t, filepath.Join(other, "2.png"), "png", solid(2, 2, blue))
	if err := os.Symlink(other, filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	s, _, err := LoadFolder(dir, FolderOptions{Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 1}; !slices.Equal(s.Labels, want) {
		t.Errorf("labels %v, want %v (linked class folder followed)", s.Labels, want)
	}
}

func TestPreprocessPanicsOnProgrammingErrors(t *testing.T) {
	for name, f := range map[string]func(){
		"size 0":      func() { Preprocess(solid(2, 2, red), 0, false, []float32{0.5}, []float32{0.5}) },
		"empty image": func() { Preprocess(image.NewRGBA(image.Rectangle{}), 2, false, []float32{0.5}, []float32{0.5}) },
		"means":       func() { Preprocess(solid(2, 2, red), 2, false, []float32{0.5, 0.5}, []float32{0.5}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
