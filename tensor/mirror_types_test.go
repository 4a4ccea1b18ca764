package tensor

import (
	"reflect"
	"testing"

	"github.com/graftml/graft/kernels/cuda"
)

// TestMirroredParamTypes checks the parameter types kernels/cuda mirrors
// (it cannot import tensor): every field of ConvParams and PoolParams has
// a counterpart of the same name and type in cuda.ConvShape and
// cuda.PoolShape, and convShape and poolShape copy each, so a field added
// on one side only fails here. (AdamParams and BatchNormParams convert to cuda.AdamStep and
// cuda.BatchNormParams: the compiler checks those pairs.)
func TestMirroredParamTypes(t *testing.T) {
	// distinct values in every int field, true in every bool
	fill := func(v reflect.Value) {
		n := 3
		var walk func(v reflect.Value)
		walk = func(v reflect.Value) {
			for i := range v.NumField() {
				f := v.Field(i)
				switch f.Kind() {
				case reflect.Int:
					f.SetInt(int64(n))
					n++
				case reflect.Bool:
					f.SetBool(true)
				case reflect.Struct:
					walk(f)
				}
			}
		}
		walk(v)
	}
	// fields flattens a struct's fields (embedded ones included) by name
	var fields func(v reflect.Value, out map[string]reflect.Value)
	fields = func(v reflect.Value, out map[string]reflect.Value) {
		for i := range v.NumField() {
			if sf := v.Type().Field(i); sf.Anonymous {
				fields(v.Field(i), out)
			} else {
				out[sf.Name] = v.Field(i)
			}
		}
	}
	check := func(name string, params, shape reflect.Value, ignore ...string) {
		p, s := map[string]reflect.Value{}, map[string]reflect.Value{}
		fields(params, p)
		fields(shape, s)
		for _, f := range ignore {
			delete(p, f)
		}
		for f, pv := range p {
			sv, ok := s[f]
			switch {
			case !ok:
				t.Errorf("%s: field %s has no counterpart in the CUDA type", name, f)
			case sv.Type() != pv.Type():
				t.Errorf("%s: field %s is %v here, %v in the CUDA type", name, f, pv.Type(), sv.Type())
			case !sv.Equal(pv):
				t.Errorf("%s: field %s = %v, the CUDA type gets %v", name, f, pv, sv)
			}
		}
	}

	var cp ConvParams
	fill(reflect.ValueOf(&cp).Elem())
	g := convGeom{p: cp, n: 1, h: 2, w: 3, c: 4, o: 5, kh: 6, kw: 7}
	check("ConvParams", reflect.ValueOf(cp), reflect.ValueOf(convShape(g)))

	var pp PoolParams
	fill(reflect.ValueOf(&pp).Elem())
	pg := poolGeom{p: pp, n: 1, h: 2, w: 3, c: 4, sh: pp.StrideH, sw: pp.StrideW, dh: pp.DilationH, dw: pp.DilationW}
	check("PoolParams", reflect.ValueOf(pp), reflect.ValueOf(poolShape(pg)), "Groups") // pooling has no groups

	var ap AdamParams
	_ = cuda.AdamStep(ap)
}
