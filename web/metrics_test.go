package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"kioskd/kiosk"
	"kioskd/kiosk/photo"
	"kioskd/kiosk/queue"
	"kioskd/web"
)

// fakeCounts is a RecordCounter.
type fakeCounts map[queue.State]int

func (f fakeCounts) Counts() (map[queue.State]int, error) { return f, nil }

// hubSource is an EventSource whose events the test publishes.
type hubSource struct{ kiosk.Hub }

func scrape(t *testing.T, m *web.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q; want 200 text/plain", rec.Code, rec.Header().Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the Prometheus text parser rejects /metrics: %v\n%s", err, rec.Body.String())
	}
	return fams
}

// value is the value of the series of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

func TestMetrics(t *testing.T) {
	src := &hubSource{}
	m := web.NewMetrics(src)
	m.StateDir = t.TempDir()
	m.Records = fakeCounts{queue.StateQueued: 3, queue.StateAccepted: 2}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	for src.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}

	fams := scrape(t, m)
	if v := value(t, fams, "kioskd_check_failures_total", map[string]string{"check": "roll"}); v != 0 {
		t.Errorf("roll failures before any frame = %v; want a 0 series", v)
	}
	if v := value(t, fams, "kioskd_disk_free_bytes", nil); v <= 0 {
		t.Errorf("kioskd_disk_free_bytes = %v; want the free space of the temp folder", v)
	}

	pub := func(d any) { src.Publish(kiosk.Event{Time: time.Now(), Data: d}) }
	pub(kiosk.CameraStatus{State: kiosk.CameraStreaming})
	pub(kiosk.Stats{FPS: 29.5, Frames: 1234})
	fail := []photo.CheckResult{{ID: photo.CheckRoll, Status: photo.StatusFail}, {ID: photo.CheckYaw, Status: photo.StatusPass}}
	for range 3 {
		pub(kiosk.Feedback{Analysis: photo.Analysis{Checks: fail}, LatencyMS: 12})
	}
	pub(kiosk.Feedback{Steady: true, LatencyMS: 8})
	pub(kiosk.Capture{State: kiosk.CaptureWorking})
	pub(kiosk.Capture{State: kiosk.CaptureReview, Auto: true})
	pub(kiosk.Capture{State: kiosk.CaptureRefused})
	pub(kiosk.CameraStatus{State: kiosk.CameraReconnecting})
	pub(kiosk.CameraStatus{State: kiosk.CameraReconnecting}) // the same outage
	pub(kiosk.CameraStatus{State: kiosk.CameraStreaming})
	pub(kiosk.CalibrationStatus{Calibrated: true, Drift: 3.5})

	want := []struct {
		name   string
		labels map[string]string
		v      float64
	}{
		{"kioskd_preview_fps", nil, 29.5},
		{"kioskd_camera_frames", nil, 1234},
		{"kioskd_analysed_frames_total", nil, 4},
		{"kioskd_analysis_latency_seconds", nil, 4},
		{"kioskd_check_failures_total", map[string]string{"check": "roll"}, 3},
		{"kioskd_check_failures_total", map[string]string{"check": "yaw"}, 0},
		{"kioskd_framing_steady", nil, 1},
		{"kioskd_captures_total", map[string]string{"state": "review", "trigger": "auto"}, 1},
		{"kioskd_captures_total", map[string]string{"state": "refused", "trigger": "operator"}, 1},
		{"kioskd_camera_reconnects_total", nil, 1},
		{"kioskd_camera_state", map[string]string{"state": "streaming"}, 1},
		{"kioskd_camera_state", map[string]string{"state": "reconnecting"}, 0},
		{"kioskd_calibration_drift", nil, 3.5},
		{"kioskd_records", map[string]string{"state": "queued"}, 3},
		{"kioskd_records", map[string]string{"state": "accepted"}, 2},
		{"kioskd_records", map[string]string{"state": "rejected"}, 0},
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams = scrape(t, m)
		var bad []string
		for _, w := range want {
			if got := value(t, fams, w.name, w.labels); got != w.v {
				bad = append(bad, w.name)
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range want {
				if got := value(t, fams, w.name, w.labels); got != w.v {
					t.Errorf("%s%v = %v; want %v", w.name, w.labels, got, w.v)
				}
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics (process_resident_memory_bytes)")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
}

// fakeSync is a SyncCounter.
type fakeSync web.SyncCounts

func (f fakeSync) SyncCounts() web.SyncCounts { return web.SyncCounts(f) }

func TestMetricsSync(t *testing.T) {
	m := web.NewMetrics(&hubSource{})
	if _, ok := scrape(t, m)["kioskd_sync_attempts_total"]; ok {
		t.Error("sync metrics on a station without a sync")
	}
	m.Sync = fakeSync{Attempts: 9, Failures: 4, Uploaded: 5, UploadedBytes: 1 << 20, State: "offline",
		LastSuccess: time.Now().Add(-90 * time.Second), Since: time.Now().Add(-time.Hour)}
	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kioskd_sync_attempts_total", nil, 9},
		{"kioskd_sync_failures_total", nil, 4},
		{"kioskd_sync_records_uploaded_total", nil, 5},
		{"kioskd_sync_uploaded_bytes_total", nil, 1 << 20},
		{"kioskd_sync_state", map[string]string{"state": "offline"}, 1},
		{"kioskd_sync_state", map[string]string{"state": "idle"}, 0},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v; want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(t, fams, "kioskd_sync_seconds_since_success", nil); got < 89 || got > 120 {
		t.Errorf("kioskd_sync_seconds_since_success = %v; want about 90", got)
	}
	// Before a first success it counts from the start of the sync.
	m.Sync = fakeSync{State: "offline", Since: time.Now().Add(-time.Hour)}
	if got := value(t, scrape(t, m), "kioskd_sync_seconds_since_success", nil); got < 3599 || got > 3700 {
		t.Errorf("kioskd_sync_seconds_since_success before a success = %v; want about 3600", got)
	}
}
