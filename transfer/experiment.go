package transfer

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Record is one measured run of an experiment: a cell (base, target,
// examples per class), a seed, and what ran there (a strategy, the
// advisor's pick, or a transferability arm at a depth).
type Record struct {
	Base     string  `json:"base"`
	Target   string  `json:"target"`
	PerClass int     `json:"per_class"`
	Seed     int     `json:"seed"`
	Arm      string  `json:"arm"`             // scratch, features, top-k, all, advisor; BnB, BnB+, AnB, AnB+, base
	Depth    int     `json:"depth,omitempty"` // transferability: groups copied
	Pick     string  `json:"pick,omitempty"`  // advisor: the candidate it picked
	Accuracy float64 `json:"accuracy"`
	Seconds  float64 `json:"seconds"`
	FLOPs    float64 `json:"flops"`
	// AdviceFLOPs and AdviceSeconds are what the advice cost (advisor).
	AdviceFLOPs   float64 `json:"advice_flops,omitempty"`
	AdviceSeconds float64 `json:"advice_seconds,omitempty"`
	FullFineTune  float64 `json:"full_finetune_flops,omitempty"`
}

// Key identifies the record's run: a rerun with the same key is skipped.
func (r Record) Key() string {
	return fmt.Sprintf("%s|%s|%d|%d|%s|%d", r.Base, r.Target, r.PerClass, r.Seed, r.Arm, r.Depth)
}

// Log is an experiment's results as JSON lines, one record a line,
// appended (and synced) as each run ends, so a run killed half-way
// resumes where it stopped: Done says which runs a log holds.
type Log struct {
	path    string
	Records []Record
	done    map[string]bool
}

// OpenLog reads the records of path (none when it does not exist). A
// torn last line (a run killed while writing it) is dropped; any other
// line that is not a record is an error.
func OpenLog(path string) (*Log, error) {
	l := &Log{path: path, done: map[string]bool{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("transfer: experiment log: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			if i == len(lines)-1 { // no newline after it: torn
				break
			}
			return nil, fmt.Errorf("transfer: experiment log %s, line %d: %v", path, i+1, err)
		}
		l.Records = append(l.Records, r)
		l.done[r.Key()] = true
	}
	return l, nil
}

// Done reports whether the log holds the run of key.
func (l *Log) Done(key string) bool { return l.done[key] }

// Append writes r as a line at the end of the log and syncs it.
func (l *Log) Append(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("transfer: experiment log: %w", err)
	}
	// a torn line left by a killed run must not glue onto this one
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		tail := make([]byte, 1)
		if r, err := os.Open(l.path); err == nil {
			r.ReadAt(tail, st.Size()-1)
			r.Close()
			if tail[0] != '\n' {
				b = append([]byte{'\n'}, b...)
			}
		}
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("transfer: experiment log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	l.Records = append(l.Records, r)
	l.done[r.Key()] = true
	return f.Close()
}

// Stat is the mean and sample standard deviation of an arm's accuracy
// over seeds.
type Stat struct {
	Arm      string    `json:"arm"`
	Depth    int       `json:"depth,omitempty"`
	Mean     float64   `json:"mean"`
	SD       float64   `json:"sd"`
	N        int       `json:"n"`
	PerSeed  []float64 `json:"per_seed"`
	Picks    []string  `json:"picks,omitempty"`
	Seconds  float64   `json:"seconds"`
	FLOPs    float64   `json:"flops"`
	AdviceX  float64   `json:"advice_cost_ratio,omitempty"` // advice FLOPs over a full fine-tune's
	recorded []Record
}

// MeanSD returns the mean and the sample standard deviation (0 for one
// value).
func MeanSD(v []float64) (mean, sd float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

// Stats groups records of one cell by arm (and depth), in the order of
// first appearance.
func Stats(rs []Record) []Stat {
	var out []Stat
	at := map[string]int{}
	for _, r := range rs {
		k := fmt.Sprintf("%s|%d", r.Arm, r.Depth)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Stat{Arm: r.Arm, Depth: r.Depth})
		}
		out[i].recorded = append(out[i].recorded, r)
	}
	for i := range out {
		s := &out[i]
		sort.Slice(s.recorded, func(a, b int) bool { return s.recorded[a].Seed < s.recorded[b].Seed })
		var secs, flops, adv []float64
		for _, r := range s.recorded {
			s.PerSeed = append(s.PerSeed, r.Accuracy)
			secs = append(secs, r.Seconds)
			flops = append(flops, r.FLOPs)
			if r.Pick != "" {
				s.Picks = append(s.Picks, r.Pick)
			}
			if r.FullFineTune > 0 {
				adv = append(adv, r.AdviceFLOPs/r.FullFineTune)
			}
		}
		s.Mean, s.SD = MeanSD(s.PerSeed)
		s.N = len(s.PerSeed)
		s.Seconds, _ = MeanSD(secs)
		s.FLOPs, _ = MeanSD(flops)
		if len(adv) > 0 {
			s.AdviceX, _ = MeanSD(adv)
		}
	}
	return out
}
