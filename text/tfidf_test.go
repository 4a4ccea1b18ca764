package text

import (
	"math"
	"testing"
)

func TestTFIDF(t *testing.T) {
	docs := [][]string{{"a", "b", "b"}, {"a", "c"}, {"d"}}
	m := NewTFIDF(docs, 1)
	if len(m.Terms) != 4 {
		t.Fatalf("terms %v", m.Terms)
	}
	v := m.Transform([]string{"b", "b", "a", "zz"})
	// a: df 2 → idf log(4/3)+1; b: df 1 → log(4/2)+1, tf 1+log 2
	a := math.Log(4.0/3) + 1
	b := (1 + math.Log(2)) * (math.Log(2) + 1)
	n := math.Hypot(a, b)
	if len(v.Idx) != 2 || v.Idx[0] != m.Terms["a"] || math.Abs(v.Val[0]-a/n) > 1e-12 || math.Abs(v.Val[1]-b/n) > 1e-12 {
		t.Fatalf("vector %+v, want a=%v b=%v", v, a/n, b/n)
	}
	if e := m.Transform(nil); len(e.Idx) != 0 {
		t.Fatal("empty document has terms")
	}
}

// TestLogReg learns a separable problem and fails on a label it never saw
// being predicted for a word of the other class.
func TestLogReg(t *testing.T) {
	var docs [][]string
	var y []int
	for i := 0; i < 40; i++ {
		if i%2 == 0 {
			docs = append(docs, []string{"free", "money", "now"}[:1+i%3])
			y = append(y, 1)
		} else {
			docs = append(docs, []string{"meeting", "agenda", "notes"}[:1+i%3])
			y = append(y, 0)
		}
	}
	m := NewTFIDF(docs, 1)
	x := make([]SparseVec, len(docs))
	for i, d := range docs {
		x[i] = m.Transform(d)
	}
	lr, err := TrainLogReg(x, y, 2, len(m.Terms), LogRegOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if c, _ := lr.Predict(x[i]); c != y[i] {
			t.Fatalf("training doc %d %v: class %d, want %d", i, docs[i], c, y[i])
		}
	}
	if c, p := lr.Predict(m.Transform([]string{"money"})); c != 1 || p[1] < 0.8 {
		t.Fatalf("money: %d %v", c, p)
	}
	if _, err := TrainLogReg(nil, nil, 2, 1, LogRegOptions{}); err == nil {
		t.Fatal("no data: no error")
	}
}
