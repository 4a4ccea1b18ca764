package data

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"  // register the GIF decoder
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	xdraw "golang.org/x/image/draw"
)

// MaxImageSide is the largest Size LoadFolder, LoadImage and Preprocess
// accept.
const MaxImageSide = 4096

// MaxImagePixels is the largest image (width·height of the file, checked
// from its header before decoding) that LoadFolder and LoadImage decode;
// a larger one is reported as a file problem instead of exhausting memory.
const MaxImagePixels = 1 << 26

// FolderOptions tells LoadFolder how to read and preprocess an image folder.
type FolderOptions struct {
	// Size is the side of the square examples, e.g. 28 or 32; required.
	Size int
	// Grey makes 1-channel examples (luma, 0.299R+0.587G+0.114B, as PIL's
	// convert("L")) instead of 3-channel RGB.
	Grey bool
	// Mean and Std normalise each channel as (pixel/255 − Mean[ch])/Std[ch].
	// Each holds one value per channel or a single value for every channel;
	// when empty, 0.5 is used (mapping pixels to [−1, 1]).
	Mean, Std []float32
	// Strict makes a file in a class folder that is not a decodable PNG,
	// JPEG or GIF image an error; otherwise such a file is skipped and a
	// warning names it.
	Strict bool
	// Classes optionally fixes the class order (e.g. a checkpoint's):
	// folder Classes[i] holds the examples of label i. A class folder whose
	// name is not in Classes is an error; a class of Classes without a
	// folder gets no examples and a warning. When empty, the class folders'
	// names in sorted order are the classes.
	Classes []string
}

// LoadFolder loads an image-folder dataset (torchvision's ImageFolder
// layout): dir holds one sub-folder per class, named after the class, and
// each class folder holds that class's images (PNG, JPEG or GIF, recognised
// by content, not name; images in nested folders count too). Classes are
// the folder names in sorted order unless o.Classes fixes them. Examples
// come class by class, each class's files in lexical path order; use
// Shuffle or Split to mix them.
//
// Each image is preprocessed by Preprocess: its shorter side scaled to
// o.Size and the centre o.Size×o.Size square cropped (torchvision's
// Resize(Size) followed by CenterCrop(Size)), turned grey or kept RGB,
// and normalised with o.Mean and o.Std. The Set records the per-channel
// Mean and Std used, one value per channel.
//
// Hidden files and folders (names starting with "."), Thumbs.db,
// desktop.ini and __MACOSX folders are ignored silently. Files directly in
// dir (not in a class folder) are ignored with a warning. A file in a class
// folder that is not a PNG, JPEG or GIF image, or that is corrupt or larger
// than MaxImagePixels, is an error when o.Strict is set and otherwise is
// skipped with a warning naming it; the warnings are returned in file
// order.
//
// Errors are *FileError values naming the path: dir missing, unreadable or
// not a directory; dir without class sub-folders; a class folder (or a
// folder or file in it) that cannot be read, or a link that cannot be
// followed; a class with no images (none there, or all skipped); a folder
// not among o.Classes; with o.Strict, a non-image or corrupt file. Invalid
// options are reported as errors too. Images are decoded on
// runtime.GOMAXPROCS(0) goroutines; the result does not depend on it.
func LoadFolder(dir string, o FolderOptions) (*Set, []string, error) {
	c := 3
	if o.Grey {
		c = 1
	}
	if o.Size <= 0 || o.Size > MaxImageSide {
		return nil, nil, fmt.Errorf("data: LoadFolder %s: Size = %d, want a side in 1..%d", dir, o.Size, MaxImageSide)
	}
	mean, std, err := normOrDefault(o.Mean, o.Std, c)
	if err != nil {
		return nil, nil, fmt.Errorf("data: LoadFolder %s: %w", dir, err)
	}
	fixed := len(o.Classes) > 0
	if fixed {
		seen := make(map[string]bool, len(o.Classes))
		for i, name := range o.Classes {
			if name == "" || strings.ContainsAny(name, `/\`) {
				return nil, nil, fmt.Errorf("data: LoadFolder %s: Classes[%d] = %q is not a folder name", dir, i, name)
			}
			if seen[name] {
				return nil, nil, fmt.Errorf("data: LoadFolder %s: Classes[%d] = %q repeats an earlier class", dir, i, name)
			}
			seen[name] = true
		}
	}

	var warnings []string
	warn := func(format string, args ...any) {
		warnings = append(warnings, "data: LoadFolder: "+fmt.Sprintf(format, args...))
	}

	// The class folders.
	if fi, err := os.Stat(dir); err != nil {
		return nil, nil, &FileError{Path: dir, Err: fmt.Errorf("cannot read image folder: %w", pathErr(err))}
	} else if !fi.IsDir() {
		return nil, nil, fileErr(dir, "not a directory (want a folder holding one sub-folder per class)")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, &FileError{Path: dir, Err: fmt.Errorf("cannot read image folder: %w", pathErr(err))}
	}
	var folders []string // class folder names, sorted
	for _, e := range entries {
		name := e.Name()
		if ignored(name) {
			continue
		}
		p := filepath.Join(dir, name)
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil {
				return nil, nil, &FileError{Path: p, Err: fmt.Errorf("cannot follow link: %w", pathErr(err))}
			}
			isDir = fi.IsDir()
		}
		if !isDir {
			warn("%s: not in a class folder, ignored", p)
			continue
		}
		folders = append(folders, name)
	}
	if len(folders) == 0 {
		return nil, nil, fileErr(dir, "no class sub-folders (want one folder per class, holding its images)")
	}
	classes := folders
	if fixed {
		classes = slices.Clone(o.Classes)
		for _, name := range folders {
			if !slices.Contains(classes, name) {
				return nil, nil, fileErr(filepath.Join(dir, name), "folder %q is not one of the %d given classes %s", name, len(classes), quoteList(classes, 10))
			}
		}
	}

	// The files of each class, in class order.
	type file struct {
		path  string
		label int
	}
	var files []file
	for label, name := range classes {
		if !slices.Contains(folders, name) {
			warn("%s: no folder for class %q: it has no examples", filepath.Join(dir, name), name)
			continue
		}
		paths, err := listImages(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		if len(paths) == 0 {
			return nil, nil, fileErr(filepath.Join(dir, name), "class %q has no images", name)
		}
		for _, p := range paths {
			files = append(files, file{p, label})
		}
	}

	// Decode and preprocess in parallel; every file has its own slot.
	size := o.Size * o.Size * c
	if len(files) > math.MaxInt/size/4 {
		return nil, nil, fmt.Errorf("data: LoadFolder %s: %d images of %dx%dx%d are too many", dir, len(files), o.Size, o.Size, c)
	}
	x := make([]float32, len(files)*size)
	errs := make([]error, len(files))
	lut := normTables(mean, std, c)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rgba *image.RGBA
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= len(files) {
					return
				}
				img, err := decodeFile(files[j].path)
				if err != nil {
					errs[j] = err
					continue
				}
				rgba = preprocessInto(x[j*size:(j+1)*size], img, o.Size, o.Grey, lut, rgba)
			}
		}()
	}
	wg.Wait()

	// Report in file order, compact and check that no class was emptied.
	s := &Set{Shape: []int{o.Size, o.Size, c}, Classes: classes, Mean: mean, Std: std}
	skipped := make([]int, len(classes))
	n := 0
	for j, f := range files {
		if errs[j] != nil {
			if o.Strict || errors.Is(errs[j], errRead) {
				return nil, nil, errs[j]
			}
			warn("skipped %v", strings.TrimPrefix(errs[j].Error(), "data: "))
			skipped[f.label]++
			continue
		}
		if n != j {
			copy(x[n*size:(n+1)*size], x[j*size:(j+1)*size])
		}
		s.Labels = append(s.Labels, f.label)
		n++
	}
	s.X = x[: n*size : n*size]
	counts := s.Counts()
	for label, name := range classes {
		if counts[label] == 0 && skipped[label] > 0 {
			return nil, nil, fileErr(filepath.Join(dir, name), "class %q has no images: all %d files were skipped", name, skipped[label])
		}
	}
	return s, warnings, nil
}

// LoadImage reads one PNG, JPEG or GIF file and preprocesses it as
// LoadFolder does (see Preprocess), for prediction: the result holds
// size·size·C normalised values in HWC order, C = 1 when grey, else 3.
// mean and std hold one value per channel or a single value; when empty,
// 0.5 is used. Errors name the file: it cannot be read, is not a PNG, JPEG
// or GIF image, is corrupt or is larger than MaxImagePixels; invalid
// arguments are errors too.
func LoadImage(path string, size int, grey bool, mean, std []float32) ([]float32, error) {
	c := 3
	if grey {
		c = 1
	}
	if size <= 0 || size > MaxImageSide {
		return nil, fmt.Errorf("data: LoadImage %s: size = %d, want a side in 1..%d", path, size, MaxImageSide)
	}
	mean, std, err := normOrDefault(mean, std, c)
	if err != nil {
		return nil, fmt.Errorf("data: LoadImage %s: %w", path, err)
	}
	img, err := decodeFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]float32, size*size*c)
	preprocessInto(out, img, size, grey, normTables(mean, std, c), nil)
	return out, nil
}

// Preprocess turns an image into a normalised example of size×size×C
// values in HWC order (C = 1 when grey, else 3), as torchvision's
// Resize(size), CenterCrop(size), optionally Grayscale, ToTensor and
// Normalize(mean, std) do with PIL images:
//
//   - the shorter side is scaled to size and the longer one to
//     ⌊size·long/short⌋, with a bilinear filter that widens when
//     shrinking (golang.org/x/image/draw's BiLinear, like PIL's
//     antialiased bilinear resize); an image already of that size is not
//     resampled;
//   - the centre size×size square is cropped (the offset rounded half to
//     even, as CenterCrop does);
//   - transparency is dropped (colours kept, alpha ignored, as PIL's
//     convert("RGB"));
//   - grey is luma, (19595R + 38470G + 7471B + 2¹⁵) >> 16 on bytes, PIL's
//     convert("L"), applied after resizing;
//   - each byte p becomes (p/255 − mean[ch])/std[ch], as ToFloat.
//
// mean and std hold C values or one each. A size outside 1..MaxImageSide,
// an image with no pixels, or mean or std of another length is a
// programming error and panics.
func Preprocess(img image.Image, size int, grey bool, mean, std []float32) []float32 {
	c := 3
	if grey {
		c = 1
	}
	if size <= 0 || size > MaxImageSide {
		panic(fmt.Sprintf("data: Preprocess: size %d, want 1..%d", size, MaxImageSide))
	}
	if img.Bounds().Empty() {
		panic(fmt.Sprintf("data: Preprocess: image bounds %v hold no pixels", img.Bounds()))
	}
	if (len(mean) != c && len(mean) != 1) || (len(std) != c && len(std) != 1) {
		panic(fmt.Sprintf("data: Preprocess: %d means and %d standard deviations for %d channels (want %d or 1 each)", len(mean), len(std), c, c))
	}
	out := make([]float32, size*size*c)
	preprocessInto(out, img, size, grey, normTables(mean, std, c), nil)
	return out
}

// preprocessInto writes Preprocess's result into dst (size·size·C values,
// lut holding C tables), using buf as the size×size scratch image when it
// fits; it returns the scratch image for reuse.
func preprocessInto(dst []float32, img image.Image, size int, grey bool, lut [][256]float32, buf *image.RGBA) *image.RGBA {
	if buf == nil || buf.Rect.Dx() != size || buf.Rect.Dy() != size {
		buf = image.NewRGBA(image.Rect(0, 0, size, size))
	}
	src := opaque(img)
	sr := src.Bounds()
	w, h := sr.Dx(), sr.Dy()
	// torchvision Resize(size): shorter side to size, longer side
	// int(size·long/short).
	nw, nh := size, size
	if w < h {
		nh = int(int64(size) * int64(h) / int64(w))
	} else {
		nw = int(int64(size) * int64(w) / int64(h))
	}
	// CenterCrop(size): offsets int(round((n − size)/2)), Python rounding.
	left := int(math.RoundToEven(float64(nw-size) / 2))
	top := int(math.RoundToEven(float64(nh-size) / 2))
	if nw == w && nh == h {
		draw.Draw(buf, buf.Rect, src, sr.Min.Add(image.Pt(left, top)), draw.Src)
	} else {
		// The whole image is scaled onto a rectangle of nw×nh placed so
		// that only the centre square falls on buf.
		dr := image.Rect(-left, -top, nw-left, nh-top)
		xdraw.BiLinear.Scale(buf, dr, src, sr, xdraw.Src, nil)
	}
	pix := buf.Pix
	if grey {
		t := &lut[0]
		for i := range size * size {
			p := pix[4*i : 4*i+3 : 4*i+3]
			l := (19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16
			dst[i] = t[l]
		}
		return buf
	}
	r, g, b := &lut[0], &lut[1], &lut[2]
	for i := range size * size {
		p := pix[4*i : 4*i+3 : 4*i+3]
		dst[3*i] = r[p[0]]
		dst[3*i+1] = g[p[1]]
		dst[3*i+2] = b[p[2]]
	}
	return buf
}

// opaque returns img with its alpha dropped: img itself when it is opaque,
// else an RGBA copy holding its straight (non-premultiplied) colours at
// full opacity.
func opaque(img image.Image) image.Image {
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return img
	}
	b := img.Bounds()
	out := image.NewRGBA(b)
	if s, ok := img.(*image.NRGBA); ok {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			orow := out.Pix[out.PixOffset(b.Min.X, y):]
			for i := 0; i < 4*b.Dx(); i += 4 {
				orow[i], orow[i+1], orow[i+2], orow[i+3] = row[i], row[i+1], row[i+2], 0xff
			}
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			c.A = 0xff
			out.SetRGBA(x, y, color.RGBA(c))
		}
	}
	return out
}

// errRead marks a file that could not be read at all (as opposed to one
// that is not a valid image): LoadFolder never skips it.
var errRead = errors.New("cannot read image")

// decodeFile decodes the image in path, checking its header first: errors
// are *FileError values naming path.
func decodeFile(path string) (img image.Image, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: %w", errRead, pathErr(err))}
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		if errors.Is(err, image.ErrFormat) || errors.Is(err, io.EOF) {
			return nil, fileErr(path, "not a PNG, JPEG or GIF image")
		}
		return nil, fileErr(path, "corrupt image header: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fileErr(path, "corrupt %s image: size %dx%d", strings.ToUpper(format), cfg.Width, cfg.Height)
	}
	if cfg.Width > MaxImagePixels/cfg.Height {
		return nil, fileErr(path, "%s image of %dx%d is larger than the limit of %d pixels", strings.ToUpper(format), cfg.Width, cfg.Height, MaxImagePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: %w", errRead, pathErr(err))}
	}
	defer func() {
		// The standard decoders do not panic on bad input; this keeps a
		// decoder bug from taking down a whole dataset load.
		if r := recover(); r != nil {
			img, err = nil, fileErr(path, "corrupt %s image: decoder failed: %v", strings.ToUpper(format), r)
		}
	}()
	img, _, err = image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fileErr(path, "corrupt %s image: %v", strings.ToUpper(format), err)
	}
	if img.Bounds().Empty() {
		return nil, fileErr(path, "corrupt %s image: no pixels", strings.ToUpper(format))
	}
	return img, nil
}

// listImages returns the candidate image files under the class folder dir
// (recursively, hidden names and links to folders excluded) in lexical
// order. An unreadable folder is a *FileError.
func listImages(dir string) ([]string, error) {
	root := dir
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		root += string(filepath.Separator) // WalkDir follows a root link only so
	}
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &FileError{Path: p, Err: fmt.Errorf("cannot read class folder: %w", pathErr(err))}
		}
		if p == root {
			return nil
		}
		if ignored(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil {
				return &FileError{Path: p, Err: fmt.Errorf("cannot follow link: %w", pathErr(err))}
			}
			if fi.IsDir() {
				return nil // not followed: links could loop
			}
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return paths, nil
}

// ignored reports whether a file or folder name is skipped silently:
// hidden names and the litter of file managers and archivers.
func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || name == "Thumbs.db" || name == "desktop.ini" || name == "__MACOSX"
}

// pathErr strips the path from an *fs.PathError (the FileError names it).
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// normOrDefault checks mean and std for c channels, using 0.5 for an empty
// one, and returns them expanded to c values each.
func normOrDefault(mean, std []float32, c int) ([]float32, []float32, error) {
	if len(mean) == 0 {
		mean = []float32{0.5}
	}
	if len(std) == 0 {
		std = []float32{0.5}
	}
	if err := checkNorm(mean, std, c); err != nil {
		return nil, nil, err
	}
	return expand(mean, c), expand(std, c), nil
}

// quoteList formats up to max names as a quoted list.
func quoteList(names []string, max int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " … (%d more)", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q", n)
	}
	b.WriteByte(']')
	return b.String()
}
