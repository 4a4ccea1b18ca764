package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/graftml/graft/kernels"
)

func init() {
	register(command{name: "info", summary: "the device and CPU kernel tier graft chose and why, CPU features, caches, threads",
		doc: `Shows the device operations run on (GRAFT_DEVICE=auto|cpu|cuda; auto takes a CUDA GPU when one answers) and the CPU kernel tier (GRAFT_CPU=auto|generic|avx2|avx512; auto takes the best the CPU supports), each with the reason for the choice, then the CPU's features, cache sizes and the number of threads (GOMAXPROCS). Unlike the computing commands, info also runs when GRAFT_DEVICE or GRAFT_CPU cannot be honoured, to say why.`,
		run: info})
}

// infoReport is what graft info prints.
type infoReport struct {
	Device       string   `json:"device"`
	DeviceReason string   `json:"device_reason"`
	GPU          string   `json:"gpu,omitempty"`
	Tier         string   `json:"tier"`
	Reason       string   `json:"reason"`
	Available    []string `json:"available_tiers"`
	CPU          string   `json:"cpu"`
	Features     []string `json:"features"`
	L1D          int      `json:"l1d_bytes"`
	L2           int      `json:"l2_bytes"`
	L3           int      `json:"l3_bytes"`
	Threads      int      `json:"threads"`
	GOARCH       string   `json:"goarch"`
}

func info(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("info")
	asJSON := fs.Bool("json", false, "print JSON")
	model := fs.String("model", "", "summarise a model instead: a graft checkpoint or an ONNX file (layers, parameters, FLOPs, groups)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *model != "" {
		return modelInfo(*model, out, *asJSON)
	}
	cs := kernels.CacheSizes()
	dev := s.device()
	r := infoReport{
		Device: s.backendName(), DeviceReason: dev.Reason, GPU: dev.GPU, Tier: kernels.Current().String(), Reason: kernels.Reason(),
		CPU: kernels.CPUName(), Features: kernels.Features(),
		L1D: cs.L1D, L2: cs.L2, L3: cs.L3, Threads: runtime.GOMAXPROCS(0), GOARCH: runtime.GOARCH,
	}
	for _, t := range kernels.Available() {
		r.Available = append(r.Available, t.String())
	}
	if *asJSON {
		return printJSON(out, r)
	}
	fmt.Fprintf(out, "device:     %s (%s)\n", r.Device, r.DeviceReason)
	if r.GPU != "" {
		fmt.Fprintf(out, "gpu:        %s\n", r.GPU)
	}
	fmt.Fprintf(out, "tier:       %s (%s)\n", r.Tier, r.Reason)
	fmt.Fprintf(out, "available:  %s\n", strings.Join(r.Available, ", "))
	fmt.Fprintf(out, "cpu:        %s (%s)\n", r.CPU, r.GOARCH)
	fmt.Fprintf(out, "features:   %s\n", strings.Join(r.Features, " "))
	fmt.Fprintf(out, "caches:     L1d %d KiB, L2 %d KiB, L3 %d MiB per core or shared\n", r.L1D>>10, r.L2>>10, r.L3>>20)
	fmt.Fprintf(out, "threads:    %d (GOMAXPROCS)\n", r.Threads)
	return nil
}

// backendName names the backend the run computes on ("cpu/avx2", "cuda:
// NAME"): its device choice's. In graft's process that is tensor.Default,
// which the process's device choice makes.
func (s *session) backendName() string { return s.device().Backend().Name() }

// printJSON writes v as indented JSON, the form of every --json.
func printJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	return e.Encode(v)
}
