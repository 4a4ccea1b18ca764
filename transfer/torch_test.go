package transfer_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/transfer"
)

// TestFromTorchPth reads a PyTorch training checkpoint (torch.save of
// {"epoch", "model": a DataParallel LeNet-5 state_dict in half precision,
// 3 classes}) as graft's lenet5, and refuses a hostile one and a wrong
// architecture with one-line errors.
func TestFromTorchPth(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pth")
	m, err := transfer.FromTorch(filepath.Join(dir, "lenet5.pth"), "lenet5")
	if err != nil {
		t.Fatal(err)
	}
	if m.Options.Classes != 3 {
		t.Errorf("classes %d, want 3 (from the head in the file)", m.Options.Classes)
	}
	ref, err := safetensors.ReadFile(filepath.Join(dir, "lenet5.ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range nn.Parameters(m) {
		want := ref.Tensors["param."+p.Name].F32
		got := p.Value.Value.Data()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %v, PyTorch %v", p.Name, i, got[i], want[i])
			}
		}
	}
	for _, c := range []struct{ file, arch, want string }{
		{"evil.pth", "lenet5", "global posix.system is not allowed"},
		{"lenet5.pth", "mnistcnn", "wrong shape"},
		{"small.pth", "lenet5", "missing"},
	} {
		_, err := transfer.FromTorch(filepath.Join(dir, c.file), c.arch)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s as %s: %v, want a one-line error with %q", c.file, c.arch, err, c.want)
		}
	}
}
