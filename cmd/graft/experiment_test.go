package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/data"
)

// A small scenarios run writes its table, JSON and plot; a rerun runs
// nothing it has (the log does not grow) and a run cut short goes on
// where it stopped.
func TestExperimentScenariosResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"experiment", "scenarios", "--dir", dir, "--bases", "mnist", "--targets", "digits", "--per-class", "3",
		"--seeds", "1", "--head-epochs", "1", "--epochs", "1", "--budget", "0", "--test-limit", "50"}
	var out bytes.Buffer
	if err := run(t, args, &out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"scenarios.md", "scenarios.json", "scenarios.png", "results.jsonl"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "scenarios.md"))
	if !strings.Contains(string(md), "| mnist | digits | 3 |") || !strings.Contains(string(md), "of the best strategy in") {
		t.Errorf("scenarios.md:\n%s", md)
	}
	log := filepath.Join(dir, "results.jsonl")
	lines := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	first := lines()
	if len(first) != 5 { // four strategies and the advisor
		t.Fatalf("%d records:\n%s", len(first), strings.Join(first, "\n"))
	}
	out.Reset()
	if err := run(t, args, &out); err != nil {
		t.Fatal(err)
	}
	if got := lines(); len(got) != 5 || strings.Contains(out.String(), "seed 1:") {
		t.Errorf("the rerun ran again (%d records):\n%s", len(got), out.String())
	}
	// cut short: the last two runs missing
	if err := os.WriteFile(log, []byte(strings.Join(first[:3], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(t, args, &out); err != nil {
		t.Fatal(err)
	}
	if got := lines(); len(got) != 5 || strings.Count(out.String(), "seed 1:") != 2 {
		t.Errorf("resumed with %d records, printed:\n%s", len(got), out.String())
	}
	// --report writes the table from the log alone: the cell it holds,
	// none for a size it lacks, and nothing runs
	out.Reset()
	if err := run(t, []string{"experiment", "scenarios", "--dir", dir, "--bases", "mnist,mnist04", "--targets", "digits",
		"--per-class", "3,7", "--report"}, &out); err != nil {
		t.Fatal(err)
	}
	md, _ = os.ReadFile(filepath.Join(dir, "scenarios.md"))
	if got := lines(); len(got) != 5 || strings.Contains(out.String(), "seed 1:") || !strings.Contains(string(md), "| mnist | digits | 3 |") ||
		strings.Contains(string(md), "| 7 |") || strings.Contains(string(md), "mnist04") {
		t.Errorf("--report: %d records, printed:\n%s", len(got), out.String())
	}
	for _, bad := range [][]string{{"experiment"}, {"experiment", "magic"}, {"experiment", "scenarios", "--per-class", "0"}} {
		if err := run(t, bad, &bytes.Buffer{}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("graft %s: %v, want a one-line error", strings.Join(bad, " "), err)
		}
	}
}

// Transferability at a toy size: bases on A and B, every arm at every
// depth, the table, the findings and the plot.
func TestExperimentTransferability(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("trains two bases")
	}
	if _, err := data.MNISTDir(); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(t, []string{"experiment", "transferability", "--dir", dir, "--per-class", "5", "--seeds", "1", "--epochs", "1",
		"--base-per-class", "10", "--base-epochs", "1", "--test-limit", "50"}, &out); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "transferability.md"))
	for _, want := range []string{"| 1 |", "| 3 |", "AnB falls as n grows", "AnB+ ≥ base B", "BnB dip"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("transferability.md lacks %q:\n%s", want, md)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "transferability.png")); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
}
