package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/nn"
)

// tinyTextData writes a CSV corpus of two classes whose words a model can
// learn, and word vectors that cover most of them, and returns them with
// the environment of a run on them: GRAFT_CACHE in a folder of the test's
// (where the vectors are cached).
func tinyTextData(t *testing.T) (csvPath, vecPath string, env []string) {
	dir := t.TempDir()
	env = []string{"GRAFT_CACHE=" + filepath.Join(dir, "cache")}
	var b strings.Builder
	b.WriteString("text,label\n")
	spam := []string{"win", "cash", "prize", "free", "offer", "click", "money", "now"}
	ham := []string{"meeting", "agenda", "notes", "project", "review", "team", "schedule", "report"}
	for i := 0; i < 60; i++ {
		ws, label := spam, "spam"
		if i%2 == 1 {
			ws, label = ham, "ham"
		}
		fmt.Fprintf(&b, "\"%s %s %s, see http://x.org/%d\",%s\n", ws[i%8], ws[(i/2)%8], ws[(i/3)%8], i, label)
	}
	csvPath = filepath.Join(dir, "d.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var v strings.Builder
	for i, w := range append(append(spam, ham...), "see", "url") {
		fmt.Fprintf(&v, "%s", w)
		for j := 0; j < 8; j++ {
			x := 0.1
			if (i < 8) == (j < 4) {
				x = 0.9
			}
			fmt.Fprintf(&v, " %.2f", x+0.01*float64(i))
		}
		v.WriteString("\n")
	}
	vecPath = filepath.Join(dir, "vecs.txt")
	if err := os.WriteFile(vecPath, []byte(v.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return csvPath, vecPath, env
}

func TestTextTrainPredict(t *testing.T) {
	t.Parallel()
	csvPath, vecPath, env := tinyTextData(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data", csvPath, "--model", "bag", "--epochs", "40"}, "random embeddings"},
		{[]string{"finetune", "--embeddings", vecPath, "--freeze-embeddings", "--data", csvPath, "--model", "bag", "--epochs", "40"}, "frozen embeddings (coverage"},
		{[]string{"finetune", "--embeddings", vecPath, "--data", csvPath, "--model", "bag", "--norm", "--hidden", "0", "--epochs", "40"}, "finetune embeddings (coverage"},
		{[]string{"finetune", "--embeddings", vecPath, "--data", csvPath, "--model", "cnn", "--seq-len", "8", "--filters", "4", "--epochs", "40"}, "finetune embeddings"},
	} {
		out := filepath.Join(dir, fmt.Sprint(len(c.args))+c.args[0]+".safetensors")
		var b bytes.Buffer
		if err := runEnv(t, env, append(append([]string{"text"}, c.args...), "--out", out), &b); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if !strings.Contains(b.String(), c.want) || !strings.Contains(b.String(), "test (12 documents): accuracy") {
			t.Fatalf("%v printed:\n%s", c.args, b.String())
		}
		if c.args[0] == "finetune" && strings.Contains(strings.Join(c.args, " "), "bag") {
			m, _, _, _, err := loadTextModel(out)
			if err != nil || !hasTokenWeights(m) {
				t.Fatalf("%v: reloaded without its token weights (%v)", c.args, err)
			}
			if w := m.(*nn.Sequential).Layer(0).(*nn.EmbeddingBag).Weights; w[2] == 0 || w[3] == 0 {
				t.Fatalf("%v: token weights not read back: %v", c.args, w[:4])
			}
		}
		b.Reset()
		if err := runEnv(t, env, []string{"text", "predict", "--from", out, "free cash prize now", "team meeting agenda notes"}, &b); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "spam ") || !strings.HasPrefix(lines[1], "ham ") {
			t.Fatalf("%v: predict printed:\n%s", c.args, b.String())
		}
	}
}

func TestTextDemoJSON(t *testing.T) {
	t.Parallel()
	csvPath, vecPath, env := tinyTextData(t)
	var b bytes.Buffer
	if err := runEnv(t, env, []string{"text", "demo", "--json", "--data", csvPath, "--embeddings", vecPath, "--per-class", "5,full", "--seeds", "2"}, &b); err != nil {
		t.Fatal(err)
	}
	var rep textDemoReport
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2*len(textMethods) || len(rep.Advice) != 2 || rep.TestDocs != 12 {
		t.Fatalf("report: %+v", rep)
	}
	for _, r := range rep.Rows {
		if len(r.Accuracies) != 2 || r.AccMean < 0.5 || r.AccMean > 1 {
			t.Fatalf("row %+v", r)
		}
		if r.PerClass == "full" && r.AccMean < 0.9 {
			t.Errorf("%s on the whole (easy) training split: accuracy %.3f", r.Method, r.AccMean)
		}
	}
}

func TestTextUserErrors(t *testing.T) {
	t.Parallel()
	csvPath, _, env := tinyTextData(t)
	for _, args := range [][]string{
		{"text"}, {"text", "frob"}, {"text", "train", "--data", csvPath},
		{"text", "finetune", "--data", csvPath, "--out", "x"},
		{"text", "train", "--data", csvPath, "--out", "x", "--model", "rnn"},
		{"text", "train", "--data", "/nonexistent.csv", "--out", "x"},
		{"text", "train", "--data", csvPath, "--out", "x", "--freeze-embeddings"},
		{"text", "predict", "--from", csvPath, "hello"},
		{"text", "predict"},
		{"text", "demo", "--per-class", "0"},
	} {
		err := runEnv(t, env, args, &bytes.Buffer{})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}
