package tensor

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// panicIn returns the error that RecoverDevice (input false) or
// RecoverInput (true) makes of a panic with v in doPanic.
func panicIn(v any, input bool) (err error) {
	if input {
		defer RecoverInput("pkg.Op", []int{2, 3}, &err)
	} else {
		defer RecoverDevice("pkg.Op", &err)
	}
	doPanic(v)
	return nil
}

//go:noinline
func doPanic(v any) {
	if v == "index" {
		var s []int
		_ = s[len(v.(string))] // a runtime error
	}
	panic(v)
}

// repanicked returns what a panic in panicIn comes out as, and the stack
// where it was caught.
func repanicked(t *testing.T, v any, input bool) (r any, stack string) {
	t.Helper()
	defer func() {
		r, stack = recover(), string(debug.Stack())
	}()
	err := panicIn(v, input)
	t.Fatalf("a panic with %v returned %v", v, err)
	return nil, ""
}

func TestRecover(t *testing.T) {
	dev := &DeviceError{Op: "Conv2D", Err: errors.New("cuda: out of memory")}
	for _, input := range []bool{false, true} {
		err := panicIn(dev, input)
		var de *DeviceError
		if !errors.As(err, &de) || de != dev || err.Error() != "pkg.Op: tensor.Conv2D on the GPU: cuda: out of memory" {
			t.Errorf("input=%v: a device failure came out as %v", input, err)
		}
		// a bug goes on, from where it began
		r, stack := repanicked(t, "index", input)
		if _, ok := r.(runtime.Error); !ok {
			t.Errorf("input=%v: a runtime error came out as %v", input, r)
		}
		if !strings.Contains(stack, "tensor.doPanic") {
			t.Errorf("input=%v: the stack of a bug lost where it began:\n%s", input, stack)
		}
	}
	// a check's panic: a bug for RecoverDevice, a misfit input for RecoverInput
	if r, _ := repanicked(t, "tensor.Add: shapes [2] and [3]", false); r != "tensor.Add: shapes [2] and [3]" {
		t.Errorf("RecoverDevice: a check's panic came out as %v", r)
	}
	if err := panicIn("tensor.Add: shapes [2] and [3]", true); err == nil || err.Error() != "pkg.Op: input [2 3]: tensor.Add: shapes [2] and [3]" {
		t.Errorf("RecoverInput: a check's panic came out as %v", err)
	}
	sentinel := errors.New("no fit")
	if err := panicIn(sentinel, true); !errors.Is(err, sentinel) {
		t.Errorf("RecoverInput: an error's panic came out as %v", err)
	}
	if r, _ := repanicked(t, 42, true); r != 42 {
		t.Errorf("RecoverInput: a panic with 42 came out as %v", r)
	}
}
