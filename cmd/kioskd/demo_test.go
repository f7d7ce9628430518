package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// demoCentralLine is the demo's log line that gives its central's admin
// page and password: the only place the demo tells its central's address.
var demoCentralLine = regexp.MustCompile(`msg="demo: central" admin=(http://\S+/admin/) user=admin password=(\S+)`)

// TestDemoSmoke runs `kioskd demo` with both servers on 127.0.0.1:0 and
// follows the demo station's sync through central: the roster comes down,
// the heartbeat goes up, and central's admin page shows the station.
func TestDemoSmoke(t *testing.T) {
	root := t.TempDir()
	saddr, log, stop := startCommand(t, "demo", "-listen", "127.0.0.1:0", "-central-listen", "127.0.0.1:0",
		"-state-dir", root, "-analysis-rate", "0")

	// The demo logs its central's address before the station is ready.
	m := demoCentralLine.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("the demo's log does not give central's admin page:\n%s", log)
	}
	adminURL, loggedPassword := m[1], m[2]
	if strings.HasSuffix(adminURL, ":0/admin/") {
		t.Fatalf("the demo logs central's admin page as %s: the chosen port, not the asked-for one, is what a person needs", adminURL)
	}
	b, err := os.ReadFile(filepath.Join(root, "central", "admin.token"))
	if err != nil {
		t.Fatalf("the demo's central keeps no admin token in ROOT/central: %v", err)
	}
	adminToken := strings.TrimSpace(string(b))
	if loggedPassword != adminToken {
		t.Error("the password the demo logs is not central's admin token")
	}

	// The station got the demo roster from central (18 students).
	waitFor(t, 15*time.Second, "the demo roster reaches the station", func() (bool, string) {
		for l := range strings.Lines(log.String()) {
			if strings.Contains(l, `msg="roster reloaded from central"`) {
				return strings.Contains(l, " students=18 "), l
			}
		}
		return false, "no roster line in the log"
	})

	// The station's sync has succeeded, as its status says.
	waitFor(t, 15*time.Second, "the station's sync succeeds", func() (bool, string) {
		var st struct {
			Queue *struct {
				LastSync time.Time `json:"last_sync"`
				Sync     *struct {
					State string `json:"state"`
				} `json:"sync"`
			} `json:"queue"`
		}
		resp, err := httpClient.Get("http://" + saddr + "/api/status")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Queue == nil || st.Queue.Sync == nil {
			return false, "status without the queue's sync: " + resp.Status
		}
		return !st.Queue.LastSync.IsZero() && st.Queue.Sync.State != "blocked", "sync state " + st.Queue.Sync.State
	})

	// Central's admin page wants the admin password...
	resp, err := httpClient.Get(adminURL)
	if err != nil {
		t.Fatalf("GET %s: %v", adminURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /admin/ without a password = %s; want 401", resp.Status)
	}
	// ...and with it lists demo-booth with a heartbeat just received.
	waitFor(t, 15*time.Second, "central's admin page shows demo-booth's heartbeat", func() (bool, string) {
		req, _ := http.NewRequest(http.MethodGet, adminURL, nil)
		req.SetBasicAuth("admin", adminToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		page := readAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return false, resp.Status
		}
		row := stationRow(page, demoStation)
		return row != "" && strings.Contains(row, "just now"), "station row: " + row
	})

	if err := stop(); err != nil {
		t.Errorf("demo after cancellation = %v; want nil\n%s", err, log)
	}
}

// stationRow returns the table row of the admin page that names station
// id, or "" when there is none.
func stationRow(page, id string) string {
	for row := range strings.SplitSeq(page, "<tr>") {
		row, _, _ = strings.Cut(row, "</tr>")
		if strings.Contains(row, `<td class="mono">`+id+`</td>`) {
			return row
		}
	}
	return ""
}

// readAll reads a response body for a failure message, at most 64 KiB.
func readAll(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return string(b)
}
