package jslit

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestToJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{a:1,b:"x",c:!0,d:!1,e:null,f:[.5,-.25,1e-3,-0,0x1f,5.],"g h":'q\'s',$i:void 0}`,
			`{"a":1,"b":"x","c":true,"d":false,"e":null,"f":[0.5,-0.25,0.001,-0,31,5],"g h":"q's","$i":null}`},
		{` [ 1 , [ ] , { } , true , false ] rest`, `[1,[],{},true,false]`},
		{`"\n\t\x41\u00e9\u{1F600}\\"`, `"\n\tAé😀\\"`},
		{`{min:-25.55166634952321,scale:.19357322992063036}`, `{"min":-25.55166634952321,"scale":0.19357322992063036}`},
	} {
		got, _, err := ToJSON([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: invalid JSON %s", c.in, got)
		}
	}
}

func TestToJSONErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`function(){}`, "not a literal"},
		{`{a:b}`, "not a literal"},
		{`{a:1`, "expected ',' or '}'"},
		{`[1,2`, "expected ',' or ']'"},
		{`"abc`, "unterminated string"},
		{`{a 1}`, "no ':'"},
		{`1e`, "number"},
		{`"\u12zz"`, "bad \\u escape"},
		{`"\u12"`, "short \\u escape"},
		{strings.Repeat("[", 1000), "nested more than"},
		{``, "unexpected end"},
		{`{(a):1}`, "object key"},
	} {
		_, _, err := ToJSON([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.20s: %v, want %q", c.in, err, c.want)
		}
	}
}

func TestExported(t *testing.T) {
	src := `!function(e){module.exports=e()}(function(){return {1:[function(e,a,n){a.exports={x:[1,2]}},{}]}})`
	got, err := Exported([]byte(src))
	if err != nil || string(got) != `{"x":[1,2]}` {
		t.Errorf("Exported = %s, %v", got, err)
	}
	if _, err := Exported([]byte(`module.exports=e()`)); err == nil {
		t.Error("no literal: no error")
	}
	if _, err := Exported([]byte(`var x = 1`)); err == nil || !strings.Contains(err.Error(), "no \"exports=\"") {
		t.Errorf("no exports: %v", err)
	}
}

// FuzzToJSON: whatever the input, the output is valid JSON or an error.
func FuzzToJSON(f *testing.F) {
	for _, s := range []string{`{a:1,b:[!0,!1,null,.5,"x\u00e9"]}`, `'a\'b'`, `[0x1f,-0,1e5]`, `{"k":void 0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, n, err := ToJSON(b)
		if err != nil {
			return
		}
		if !json.Valid(out) || n > len(b) {
			t.Fatalf("%q → %q (%d bytes used)", b, out, n)
		}
	})
}
