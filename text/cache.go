package text

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/graftml/graft/nn/safetensors"
)

// cacheVersion changes when the cache layout does.
const cacheVersion = "1"

// CachePaths returns the two files LoadCached keeps in dir for the source
// file at path: the vectors (safetensors, one F32 tensor "vectors" of
// [words, dim]) and the vocabulary (one word a line, in row order).
func CachePaths(path, dir string) (vectors, vocab string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("text: %w", err)
	}
	h := sha256.Sum256([]byte(abs))
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + "-" + hex.EncodeToString(h[:6])
	return filepath.Join(dir, base+".safetensors"), filepath.Join(dir, base+".vocab"), nil
}

// stamp identifies a source file's version: its size and modification time.
func stamp(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("text: %w", err)
	}
	return strconv.FormatInt(st.Size(), 10) + "@" + strconv.FormatInt(st.ModTime().UnixNano(), 10), nil
}

// LoadCached loads the word vectors at path through a cache in dir. The
// first call reads the whole file (opts.Format applies) and writes the
// cache; later calls read the cache as long as the file keeps its size and
// modification time. opts.Keep and opts.Limit are applied after loading,
// so one cache serves every vocabulary. hit reports whether the cache was
// used. A cache that is missing, stale or unreadable is rebuilt.
func LoadCached(path, dir string, opts ReadOptions) (v *Vectors, hit bool, err error) {
	st, err := stamp(path)
	if err != nil {
		return nil, false, err
	}
	vecPath, vocabPath, err := CachePaths(path, dir)
	if err != nil {
		return nil, false, err
	}
	if v, err := readCache(vecPath, vocabPath, st); err == nil {
		return restrict(v, opts), true, nil
	}
	full := opts
	full.Keep, full.Limit = nil, 0
	v, err = Load(path, full)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("text: cache: %w", err)
	}
	if err := WriteCache(v, vecPath, vocabPath, st); err != nil {
		return nil, false, err
	}
	return restrict(v, opts), false, nil
}

func restrict(v *Vectors, opts ReadOptions) *Vectors {
	if opts.Keep == nil && (opts.Limit <= 0 || opts.Limit >= v.Len()) {
		return v
	}
	return v.Restrict(opts.Keep, opts.Limit)
}

// WriteCache writes v as a vocabulary file and a safetensors file whose
// metadata records the source stamp and the vocabulary's hash, each written
// atomically (vocabulary first, so a half-made cache never validates).
func WriteCache(v *Vectors, vecPath, vocabPath, source string) error {
	var voc bytes.Buffer
	for _, w := range v.Words {
		if strings.ContainsAny(w, "\n\r") {
			return fmt.Errorf("text: cache: word %q holds a line break", w)
		}
		voc.WriteString(w)
		voc.WriteByte('\n')
	}
	if err := writeAtomic(vocabPath, voc.Bytes()); err != nil {
		return fmt.Errorf("text: cache: %w", err)
	}
	h := sha256.Sum256(voc.Bytes())
	f := &safetensors.File{
		Tensors: map[string]*safetensors.Tensor{"vectors": {DType: safetensors.F32, Shape: []int{v.Len(), v.Dim}, F32: v.Data}},
		Metadata: map[string]string{"graft_cache": cacheVersion, "source": source,
			"vocab_sha256": hex.EncodeToString(h[:]), "words": strconv.Itoa(v.Len())},
	}
	if err := safetensors.WriteFile(vecPath, f); err != nil {
		return fmt.Errorf("text: cache: %w", err)
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// readCache reads a cache written for the source stamp.
func readCache(vecPath, vocabPath, source string) (*Vectors, error) {
	f, err := safetensors.ReadFile(vecPath)
	if err != nil {
		return nil, err
	}
	md := f.Metadata
	if md["graft_cache"] != cacheVersion || md["source"] != source {
		return nil, errors.New("stale cache")
	}
	t := f.Tensors["vectors"]
	if t == nil || len(t.Shape) != 2 || t.DType != safetensors.F32 {
		return nil, errors.New("cache without a vectors tensor")
	}
	voc, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(voc)
	if hex.EncodeToString(h[:]) != md["vocab_sha256"] {
		return nil, errors.New("vocabulary does not match the vectors")
	}
	s := string(voc)
	words := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(s) == 0 {
		words = nil
	}
	if len(words) != t.Shape[0] {
		return nil, fmt.Errorf("cache has %d words for %d vectors", len(words), t.Shape[0])
	}
	return New(t.Shape[1], words, t.F32)
}
