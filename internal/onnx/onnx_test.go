package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

const nodeDir = "/usr/share/libonnx-testdata/data/node"

func TestReadConvCase(t *testing.T) {
	dir := filepath.Join(nodeDir, "test_conv_with_strides_padding")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("libonnx-testdata not installed (apt-get install -y libonnx-testdata)")
	}
	m, err := ReadModel(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Nodes) != 1 || m.Nodes[0].OpType != "Conv" || m.Opset == 0 {
		t.Fatalf("model = %+v", m)
	}
	if s := m.Nodes[0].Attrs["strides"].Ints; len(s) != 2 || s[0] != 2 {
		t.Fatalf("strides = %v", s)
	}
	x, err := ReadTensor(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Dims) != 4 || x.DataType != Float || len(x.Values) != x.Dims[0]*x.Dims[1]*x.Dims[2]*x.Dims[3] {
		t.Fatalf("input = dims %v type %d, %d values", x.Dims, x.DataType, len(x.Values))
	}
}

func TestMalformedInputIsAnError(t *testing.T) {
	for _, b := range [][]byte{{0x0a}, {0x0a, 0x05, 1}, {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, {0x0b}, {0x08, 0x80}} {
		if _, err := DecodeModel(b); err == nil {
			t.Errorf("DecodeModel(%x) = nil error", b)
		}
	}
	// dims 2×2 of float with 3 bytes of raw data
	if _, err := DecodeTensor([]byte{0x0a, 0x02, 2, 2, 0x10, 1, 0x4a, 3, 0, 0, 0}); err == nil {
		t.Error("short raw data accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x0a, 0x02, 2, 2, 0x10, 1, 0x4a, 16, 0, 0, 128, 63, 0, 0, 128, 63, 0, 0, 128, 63, 0, 0, 128, 63})
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeModel(b)
		DecodeTensor(b)
	})
}

func TestHalf(t *testing.T) {
	for h, want := range map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08, 0x0000: 0} {
		if got := halfToFloat(h); got != want {
			t.Errorf("halfToFloat(%#x) = %v, want %v", h, got, want)
		}
	}
}
