package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDeviceCheck runs graft on devices chosen as GRAFT_DEVICE would
// choose them with a CUDA driver library that is not there (each run's
// own choice, tensor.ChooseDevice, not the process's): a computing
// command stops with exit status 2 and one line when GRAFT_DEVICE cannot
// be honoured, while info still reports the choice and its reason.
func TestDeviceCheck(t *testing.T) {
	t.Parallel()
	const noLib = "GRAFT_CUDA_LIB=/nonexistent/libcuda.so.1"
	cases := []struct {
		env  []string
		args string
		code int
		want string // in stderr when code != 0, else in stdout
	}{
		{[]string{noLib, "GRAFT_DEVICE=cuda"}, "train --data /nonexistent/images --epochs 1", 2, "graft: GRAFT_DEVICE=cuda, but CUDA is not usable: cuda: no driver library: /nonexistent/libcuda.so.1"},
		{[]string{noLib, "GRAFT_DEVICE=gpu0"}, "predict --from x.safetensors y.png", 2, `graft: GRAFT_DEVICE="gpu0" is not a device`},
		{[]string{noLib, "GRAFT_DEVICE=cuda"}, "info", 0, "device:     cpu/"},
		{[]string{noLib, "GRAFT_DEVICE=cuda"}, "info", 0, "(GRAFT_DEVICE=cuda: cuda: no driver library: /nonexistent/libcuda.so.1"},
		{[]string{noLib, "GRAFT_DEVICE=cpu"}, "info", 0, "(GRAFT_DEVICE=cpu)\n"},
	}
	for _, c := range cases {
		stdout, stderr, code := graftExec(t, c.env, strings.Fields(c.args)...)
		out := stdout
		if c.code != 0 {
			out = stderr
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != c.code || !strings.Contains(out, c.want) || (code != 0 && len(lines) != 1) || strings.Contains(stdout+stderr, "panic:") {
			t.Errorf("%s graft %s: exit %d, want %d and %q in\nstdout:\n%s\nstderr:\n%s", strings.Join(c.env, " "), c.args, code, c.code, c.want, stdout, stderr)
		}
	}

	stdout, stderr, code := graftExec(t, []string{noLib, "GRAFT_DEVICE="}, "info", "--json")
	var r infoReport
	if err := json.NewDecoder(strings.NewReader(stdout)).Decode(&r); err != nil || code != 0 {
		t.Fatalf("graft info --json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if !strings.HasPrefix(r.DeviceReason, "GRAFT_DEVICE=auto: cuda: no driver library") || r.GPU != "" {
		t.Errorf("graft info --json: device_reason %q, gpu %q", r.DeviceReason, r.GPU)
	}
}
