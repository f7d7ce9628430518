package kiosk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImportsNoAdapter enforces the house rule: the domain (kiosk and
// everything below it) depends on no adapter and no HTTP code.
func TestDomainImportsNoAdapter(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", "-test=false", "-f", "{{.ImportPath}}", "kioskd/kiosk/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{"kioskd/camera", "kioskd/web", "kioskd/sync", "kioskd/cmd", "net/http", "github.com/blackjack/webcam", "github.com/gorilla/websocket"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("kiosk/... depends on %s; the domain must not import adapters or net/http", dep)
			}
		}
	}
}
