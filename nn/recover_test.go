package nn_test

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// TestPredictSummarizeErrors: a failure on the GPU is an error errors.As
// finds a *tensor.DeviceError in; an input that does not fit is an error;
// a bug panics on, its stack holding where it happened.
func TestPredictSummarizeErrors(t *testing.T) {
	calls := map[string]func(l nn.Layer, shape ...int) error{
		"Predict": func(l nn.Layer, shape ...int) error {
			y, err := nn.Predict(l, tensor.Zeros(shape...))
			if err != nil && y != nil {
				t.Errorf("Predict returned %v and the error %v", y.Shape(), err)
			}
			return err
		},
		"Summarize": func(l nn.Layer, shape ...int) error {
			s, err := nn.Summarize(l, shape)
			if err != nil && s != nil {
				t.Errorf("Summarize returned a summary and the error %v", err)
			}
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call(nn.NewSequential(nn.NewDense(4, 2, true, 1), &modelcheck.Failing{Device: true}), 3, 4)
			var de *tensor.DeviceError
			if !errors.As(err, &de) || !errors.Is(err, modelcheck.ErrOOM) || !strings.HasPrefix(err.Error(), "nn."+name+": ") {
				t.Errorf("a device failure: %v (%T), want an error wrapping *tensor.DeviceError", err, err)
			}

			err = call(nn.NewDense(4, 2, true, 1), 3, 5)
			if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "input [3 5]") {
				t.Errorf("an input that does not fit: %v", err)
			}

			func() {
				defer func() {
					r := recover()
					if _, ok := r.(runtime.Error); !ok {
						t.Errorf("a bug came out as %v", r)
					}
					if s := string(debug.Stack()); !strings.Contains(s, "modelcheck.InferBug") {
						t.Errorf("a bug's stack lost where it happened:\n%s", s)
					}
				}()
				err := call(&modelcheck.Failing{}, 3, 4)
				t.Errorf("a bug returned %v", err)
			}()
		})
	}
}
