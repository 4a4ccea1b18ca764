package nn

import (
	"errors"
	"testing"

	"github.com/graftml/graft/tensor"
)

func TestDeviceFailure(t *testing.T) {
	fail := func(v any) (err error) {
		defer deviceFailure("nn.Fit", &err)
		panic(v)
	}
	err := fail(&tensor.DeviceError{Op: "Conv2D", Err: errors.New("cuda: out of memory")})
	var de *tensor.DeviceError
	if !errors.As(err, &de) || de.Op != "Conv2D" || err.Error() != "nn.Fit: tensor.Conv2D on the GPU: cuda: out of memory" {
		t.Fatalf("got %v", err)
	}
	defer func() {
		if r := recover(); r != "a bug" {
			t.Fatalf("another panic came out as %v", r)
		}
	}()
	fail("a bug")
	t.Fatal("the panic was swallowed")
}
