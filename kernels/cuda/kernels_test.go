package cuda

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fatbinMagic starts every fatbin (little-endian 0xBA55ED50).
const fatbinMagic = 0xBA55ED50

// TestFatbinEmbedded checks the embedded kernel image without a GPU: it is
// the fatbin tools/gen/cuda wrote (magic, SHA-256), it holds exactly the
// kernels the Go API binds, and each of their names is in its bytes (the
// symbol table of each cubin).
func TestFatbinEmbedded(t *testing.T) {
	if len(fatbin) < 8 {
		t.Fatalf("kernels.fatbin is %d bytes; run go generate ./kernels/cuda", len(fatbin))
	}
	if m := binary.LittleEndian.Uint32(fatbin); m != fatbinMagic {
		t.Errorf("kernels.fatbin starts with %#x, want the fatbin magic %#x", m, fatbinMagic)
	}
	if sum := fmt.Sprintf("%x", sha256.Sum256(fatbin)); sum != fatbinSHA256 {
		t.Errorf("kernels.fatbin has SHA-256 %s, kernels_gen.go says %s: regenerate both with go generate ./kernels/cuda", sum, fatbinSHA256)
	}
	if len(fatbin) > 8<<20 {
		t.Errorf("kernels.fatbin is %d bytes, more than 8 MiB", len(fatbin))
	}
	// Each cubin (one per sm_XY target) has a symbol table naming every
	// kernel; the PTX is compressed.
	sassTargets := len(regexp.MustCompile(`\bsm_\d+`).FindAllString(fatbinTargets, -1))
	bound := kernelNames[:]
	seen := map[string]bool{}
	for id, name := range bound {
		if name == "" {
			t.Errorf("kernel %d has no name", id)
		}
		if seen[name] {
			t.Errorf("kernel %q bound twice", name)
		}
		seen[name] = true
		if n := bytes.Count(fatbin, []byte("\x00"+name+"\x00")); n < sassTargets {
			t.Errorf("kernel %q is in the symbol tables of %d cubins of kernels.fatbin, want %d", name, n, sassTargets)
		}
	}
	sorted := slices.Sorted(slices.Values(bound))
	if !slices.Equal(sorted, fatbinKernels) {
		t.Errorf("the Go API binds %v,\nthe fatbin holds %v", sorted, fatbinKernels)
	}
	t.Log(FatbinInfo())
}

// TestArgErrors calls the kernels with impossible arguments: each returns
// an *ArgError naming the problem before touching the driver, so this
// runs without a GPU. Valid calls on kernels that were never loaded return
// ErrNotLoaded.
func TestArgErrors(t *testing.T) {
	k := &Kernels{sms: 100}
	var s Stream
	const p, q, r DevicePtr = 0x1000, 0x2000, 0x3000
	conv := ConvShape{N: 1, H: 5, W: 5, C: 4, O: 6, KH: 3, KW: 3}
	pool := PoolShape{N: 1, H: 5, W: 5, C: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	bad := []struct {
		name string
		err  error
		want string
	}{
		{"negative m", k.Sgemm(s, false, false, -1, 4, 4, 1, p, 4, q, 4, 0, r, 4), "m = -1"},
		{"small lda", k.Sgemm(s, false, false, 4, 4, 5, 1, p, 4, q, 4, 0, r, 4), "lda 4 < 5"},
		{"small lda transposed", k.Sgemm(s, true, false, 6, 4, 5, 1, p, 5, q, 4, 0, r, 4), "lda 5 < 6"},
		{"small ldb transposed", k.Sgemm(s, false, true, 4, 4, 5, 1, p, 5, q, 4, 0, r, 4), "ldb 4 < 5"},
		{"small ldc", k.Sgemm(s, false, false, 4, 6, 4, 1, p, 4, q, 6, 0, r, 5), "ldc 5 < 6"},
		{"null A", k.Sgemm(s, false, false, 4, 4, 4, 1, 0, 4, q, 4, 0, r, 4), "A is a null pointer"},
		{"unaligned C", k.Sgemm(s, false, false, 4, 4, 4, 1, p, 4, q, 4, 0, r+2, 4), "not 4-byte aligned"},
		{"conv groups", k.Conv2DForward(s, ConvShape{N: 1, H: 5, W: 5, C: 4, O: 6, KH: 3, KW: 3, Groups: 4}, p, q, r, 0), "multiples of Groups"},
		{"conv window", k.Conv2DForward(s, ConvShape{N: 1, H: 2, W: 5, C: 4, O: 6, KH: 3, KW: 3}, p, q, r, 0), "larger than the padded"},
		{"conv pad", k.Conv2DBackwardData(s, ConvShape{N: 1, H: 5, W: 5, C: 4, O: 6, KH: 3, KW: 3, PadTop: -1}, p, q, r), "PadTop = -1"},
		{"conv null w", k.Conv2DBackwardWeights(s, conv, 0, 0, q, r), "dw is a null pointer"},
		{"pool window", k.MaxPool2DForward(s, PoolShape{N: 1, H: 1, W: 5, C: 4, KH: 2, KW: 2}, p, q), "larger than the padded"},
		{"pool null", k.AvgPool2DBackward(s, pool, 0, q), "dx is a null pointer"},
		{"global hw", k.GlobalAvgPool(s, 2, 0, 3, p, q), "hw = 0"},
		{"bn running", k.BatchNormTrain(s, 4, 3, BatchNormParams{}, p, q, r, p, q, 0, r, p), "runMean and runVar"},
		{"softmax rows", k.Softmax(s, -3, 4, false, p, q), "rows = -3"},
		{"xent classes", k.SoftmaxCrossEntropy(s, 3, 0, 0, p, 0, q, r), "no classes"},
		{"xent smoothing", k.SoftmaxCrossEntropy(s, 3, 4, 1.5, p, 0, q, r), "smoothing 1.5"},
		{"sum", k.Sum(s, 2, -1, 3, p, q), "r = -1"},
		{"sgd buf", k.SGD(s, 5, 0.1, 0.9, 0, false, false, p, q, 0), "buf is a null pointer"},
		{"adam", k.Adam(s, 5, AdamStep{}, p, q, r, 0), "v is a null pointer"},
		{"activation", k.Activate(s, NumActivations, 0, 5, p, q), "unknown activation"},
		{"add", k.Add(s, 5, p, 0, q), "x is a null pointer"},
	}
	for _, c := range bad {
		var ae *ArgError
		if !errors.As(c.err, &ae) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want an *ArgError saying %q", c.name, c.err, c.want)
		}
	}
	// Valid calls reach the launch, which has no kernels; empty ones do
	// nothing and succeed.
	for name, err := range map[string]error{
		"Sgemm":        k.Sgemm(s, true, true, 4, 4, 4, 1, p, 4, q, 4, 0, r, 4),
		"Sgemm alpha0": k.Sgemm(s, false, false, 4, 4, 4, 0, 0, 4, 0, 4, 0, r, 4),
		"Conv2D":       k.Conv2DForward(s, conv, p, q, r, 0),
		"Fill":         k.Fill(s, 3, 0, p),
		"nil Kernels":  (*Kernels)(nil).Sgemm(s, false, false, 4, 4, 4, 1, p, 4, q, 4, 0, r, 4),
	} {
		if !errors.Is(err, ErrNotLoaded) {
			t.Errorf("%s on unloaded kernels: %v, want ErrNotLoaded", name, err)
		}
	}
	for name, err := range map[string]error{
		"Sgemm m=0": k.Sgemm(s, false, false, 0, 4, 4, 1, 0, 4, 0, 4, 0, 0, 4),
		"Add n=0":   k.Add(s, 0, 0, 0, 0),
		"Sum empty": k.Sum(s, 0, 5, 3, 0, 0),
	} {
		if err != nil {
			t.Errorf("%s: %v, want nil (nothing to do)", name, err)
		}
	}
}
