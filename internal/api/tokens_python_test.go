package api_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAPITokenPythonClient runs kernelci-core's own Python client
// (scripts/check-python-client.py: whoami, subscribe, node writes,
// submit_results, events) with an API token in place of a login JWT.
// It needs KCI_CORE_PATH (a kernelci-core checkout) and python3 with
// kernelci-core's dependencies; without them it skips.
func TestAPITokenPythonClient(t *testing.T) {
	core := os.Getenv("KCI_CORE_PATH")
	if core == "" {
		t.Skip("KCI_CORE_PATH (a kernelci-core checkout) is not set")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if out, err := exec.Command(py, "-c", "import requests, pydantic, yaml").CombinedOutput(); err != nil {
		t.Skipf("python3 lacks kernelci-core's dependencies: %s", out)
	}
	t.Parallel()
	e := newEnv(t)
	jwt := e.token("pipeline")
	tok := secretOf(e.newToken(jwt, "pipeline", "node:write", "pubsub"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, filepath.Join("..", "..", "scripts", "check-python-client.py"), e.base)
	cmd.Env = append(os.Environ(), "KCI_API_TOKEN="+tok, "KCI_CORE_PATH="+core)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("check-python-client.py with an API token: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "whoami pipeline") || !strings.Contains(string(out), "event3 updated True") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}
