package pth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds whole files (zip and pickle) to Read: it must return a
// state_dict or an error, never panic, and the fixtures seed it.
func FuzzRead(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	st := make([]byte, 24)
	f.Add(archiveOf(f, tensorPickle(6, 0, []byte{3, 2}, []byte{1, 3}), st))
	f.Add(archiveOf(f, tensorPickle(6, 0, []byte{4, 3}, []byte{0, 1}), st))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := Read(bytes.NewReader(b), int64(len(b)), Options{StripModule: true})
		if err == nil && len(sd.Tensors) == 0 {
			t.Fatal("no error and no tensors")
		}
	})
}

// FuzzUnpickle runs the unpickler alone on data.pkl bytes (the fixtures'
// pickles seed it), with storages served from a fixed 24-byte entry.
func FuzzUnpickle(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(unzip(f, b)[0].data)
	}
	f.Add(tensorPickle(6, 0, []byte{3, 2}, []byte{1, 3}))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		st := &storage{key: "0", dt: f32, numel: 6, data: make([]byte, 24)}
		u := &unpickler{b: pkl, persid: func(pid any) (any, error) {
			if tp, ok := pid.(tuple); ok && len(tp) == 5 {
				return st, nil
			}
			return nil, errors.New("bad pid")
		}}
		obj, err := u.run()
		if err != nil {
			return
		}
		if d, _, err := findStateDict(obj); err == nil {
			a := &archive{size: int64(len(pkl)), order: binary.LittleEndian}
			a.materialise(d, "", Options{})
		}
	})
}

// fixtures returns the bytes of testdata/pth's .pth files.
func fixtures(f *testing.F) [][]byte {
	files, _ := filepath.Glob(fixture("*.pth"))
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
