// Command graft is graft's command line:
//
//	graft demo    transfer learning end to end on data embedded in the
//	              binary: scratch, features, top-k and all, with accuracy,
//	              time, FLOPs and the advisor's pick
//	graft info    the device and CPU kernel tier chosen and why (GRAFT_DEVICE,
//	              GRAFT_CPU), the CPU features, caches and threads
//	graft train   a model trained from scratch on MNIST or Fashion-MNIST,
//	              evaluated on the test set each epoch, saved as safetensors
//
// The fine-tuning and demo commands arrive with the transfer package.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "graft:", err)
		os.Exit(2)
	}
}

const usage = `usage: graft <command> [flags]

commands:
  demo [--json]   transfer learning in one command: an MNIST CNN (embedded) re-used for
                  scikit-learn's digits at 10 images per class, every strategy against
                  training from scratch, and the advisor's pick [--seeds N --per-class K]
  finetune        re-use a checkpoint for new data: --from FILE --data DIR|digits|fashion
                  [--strategy auto|features|top-k|all|scratch] [--top K] [--per-class K] --out FILE
  advise          the advisor's plan and its reasons: --from FILE --data DIR|digits|fashion
  predict         top classes of images: --from FILE [--top K] IMAGE...
  bench [--json]  the headline kernels' GFLOP/s and training steps' images/s on this machine
  info [--json]   device, CPU kernel tier and why, CPU features, caches, threads
  train           train a model from scratch: --model lenet5|mnistcnn|resnet18cifar|mobilenetv2
                  --data mnist|fashion --epochs N --out FILE.safetensors [--batch --lr --wd --seed]`

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given\n%s", usage)
	}
	switch args[0] {
	case "train", "demo", "finetune", "advise", "bench", "predict":
		// The commands that compute stop at once when GRAFT_DEVICE cannot be honoured.
		if err := tensor.CheckDevice(); err != nil {
			return err
		}
	}
	switch args[0] {
	case "info":
		return info(args[1:], out)
	case "train":
		return train(args[1:], out)
	case "demo":
		return demo(args[1:], out)
	case "finetune":
		return finetune(args[1:], out)
	case "advise":
		return advise(args[1:], out)
	case "bench":
		return bench(args[1:], out)
	case "predict":
		return predict(args[1:], out)
	case "text":
		return textCmd(args[1:], out)
	case "help", "-h", "--help":
		fmt.Fprintln(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (try: graft help)", args[0])
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

func info(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("info: %v", err)
	}
	cs := kernels.CacheSizes()
	dev := tensor.DeviceReport()
	r := infoReport{
		Device: tensor.Default().Name(), DeviceReason: dev.Reason, GPU: dev.GPU, Tier: kernels.Current().String(), Reason: kernels.Reason(),
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

func backendName() string { return tensor.Default().Name() }

// printJSON writes v as indented JSON, the form of every --json.
func printJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}
