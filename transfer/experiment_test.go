package transfer_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/transfer"
)

// The log keeps every record a run appended; a reopened log knows them,
// a torn last line (a run killed while writing) is dropped and the next
// record starts on a line of its own, and a bad line elsewhere is an error.
func TestLogResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	l, err := transfer.OpenLog(path)
	if err != nil || len(l.Records) != 0 {
		t.Fatalf("new log: %v, %v", l, err)
	}
	a := transfer.Record{Base: "b", Target: "t", PerClass: 10, Seed: 1, Arm: "all", Accuracy: 0.5}
	b := a
	b.Seed = 2
	for _, r := range []transfer.Record{a, b} {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	l, err = transfer.OpenLog(path)
	if err != nil || len(l.Records) != 2 || !l.Done(a.Key()) || !l.Done(b.Key()) {
		t.Fatalf("reopened: %v, %v", l, err)
	}
	c := a
	c.Arm = "scratch"
	if l.Done(c.Key()) {
		t.Error("a run never logged counts as done")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"base":"b","targ`)
	f.Close()
	l, err = transfer.OpenLog(path)
	if err != nil || len(l.Records) != 2 {
		t.Fatalf("torn last line: %v records, %v", len(l.Records), err)
	}
	if err := l.Append(c); err != nil {
		t.Fatal(err)
	}
	l, err = transfer.OpenLog(path)
	if err == nil {
		t.Fatalf("a torn line in the middle: no error (%d records)", len(l.Records))
	}
	if !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v does not name line 3", err)
	}
}

func TestStats(t *testing.T) {
	rs := []transfer.Record{{Arm: "all", Seed: 2, Accuracy: 0.7}, {Arm: "all", Seed: 1, Accuracy: 0.5}, {Arm: "advisor", Seed: 1, Accuracy: 0.6, Pick: "top-2", AdviceFLOPs: 1, FullFineTune: 2}}
	s := transfer.Stats(rs)
	if len(s) != 2 || s[0].Arm != "all" || s[0].N != 2 || math.Abs(s[0].Mean-0.6) > 1e-12 || math.Abs(s[0].SD-math.Sqrt(0.02)) > 1e-12 || s[0].PerSeed[0] != 0.5 {
		t.Errorf("stats %+v", s)
	}
	if s[1].Picks[0] != "top-2" || s[1].AdviceX != 0.5 || s[1].SD != 0 {
		t.Errorf("advisor stats %+v", s[1])
	}
}
