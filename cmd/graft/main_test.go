package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestInfo(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"info"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"device:     cpu/", "tier:", "threads:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("graft info lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run([]string{"info", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var r infoReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Tier == "" || r.Threads < 1 {
		t.Fatalf("graft info --json = %s (%v)", out.String(), err)
	}
}

func TestUserErrorsAreOneLine(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"info", "--bogus"}} {
		err := run(args, &bytes.Buffer{})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}
