package tensor

import (
	"fmt"
	"runtime"
)

// Operations report failures by panicking: a *DeviceError when the GPU
// fails (out of memory, a launch error), a string naming the shapes when
// their operands do not fit. The library's functions that return errors
// turn the panics that are failures into errors with RecoverDevice and
// RecoverInput, and let bugs go on.

// RecoverDevice, deferred by a function that returns an error, turns a
// panic carrying a *DeviceError into that function's error, "op: " and the
// device error, which errors.As finds. Any other panic goes on, with its
// stack: the deferred call runs on top of the frames where it began.
//
//	func Train(…) (err error) {
//		defer tensor.RecoverDevice("pkg.Train", &err)
//		…
//	}
func RecoverDevice(op string, err *error) {
	if r := recover(); r != nil {
		*err = failure(op, nil, r, false)
	}
}

// RecoverInput is RecoverDevice for a function whose input may not fit
// what it runs (a model's input shape): it also turns the panic of a check
// (a string or an error: operations and layers name the shapes that do
// not fit) into the error, "op: input SHAPE: " and the check's message. A
// runtime error (an index out of range, a nil pointer: a bug) and any
// other value go on panicking, with their stacks.
func RecoverInput(op string, shape []int, err *error) {
	if r := recover(); r != nil {
		*err = failure(op, shape, r, true)
	}
}

// failure returns the error a recovered panic r is, or panics again with
// r when it is not one: a *DeviceError is; with checks, so are strings and
// errors other than runtime errors.
func failure(op string, shape []int, r any, checks bool) error {
	if de, ok := r.(*DeviceError); ok {
		return fmt.Errorf("%s: %w", op, de)
	}
	if checks {
		switch v := r.(type) {
		case runtime.Error:
		case error:
			return fmt.Errorf("%s: input %v: %w", op, shape, v)
		case string:
			return fmt.Errorf("%s: input %v: %s", op, shape, v)
		}
	}
	panic(r)
}
