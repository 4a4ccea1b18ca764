package safetensors

import (
	"bytes"
	"testing"
)

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleFile()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := Write(&buf, &File{}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(raw(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},"__metadata__":{"a":"b"}}`,
		le16(0x3c00, 0x7e01, 0x4049, 0xff80)))
	f.Add(raw(`{"e":{"dtype":"I64","shape":[0],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)))
	for _, tc := range hostile {
		f.Add(tc.file)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readBytes(b)
		if err != nil {
			if got != nil {
				t.Fatal("Read returned a File with its error")
			}
			return
		}
		// Everything Read accepts must write (floats as F32) and read back
		// to the same tensors.
		for _, tn := range got.Tensors {
			if tn.DType != I64 {
				tn.DType = F32
			}
		}
		var out bytes.Buffer
		if err := Write(&out, got); err != nil {
			t.Fatalf("Write of an accepted file: %v", err)
		}
		again, err := readBytes(out.Bytes())
		if err != nil {
			t.Fatalf("Read of a rewritten file: %v", err)
		}
		equalFiles(t, got, again)
	})
}
