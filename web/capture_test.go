package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/camera/demo"
	"kioskd/kiosk"
	"kioskd/web"
)

// The capture tests run the real station on single frames of the demo
// camera's scene: the settled pose (t = 10 s of its loop), which makes a
// photo, and the empty wall (t = 0.5 s), which is what calibration wants.

const (
	settledAt   = 10 * time.Second
	emptyWallAt = 500 * time.Millisecond
)

var demoScene struct {
	once  sync.Once
	scene *demo.Scene
}

// demoFrame is the demo scene's frame at time at of its loop. The scene is
// shared by the tests, so each frame is rendered once.
func demoFrame(t testing.TB, at time.Duration) kiosk.Frame {
	t.Helper()
	demoScene.once.Do(func() { demoScene.scene = demo.NewScene() })
	s := demoScene.scene
	f, err := s.Frame(int(at * time.Duration(s.Frames()) / demo.LoopLength))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startDemoBooth runs a station whose camera repeats the demo frame at at,
// 20 times a second, with wrap (if not nil) between server and station.
func startDemoBooth(t testing.TB, at time.Duration, wrap func(*kiosk.Station) web.Station) *harness {
	t.Helper()
	src := newTestSource(kiosk.SourceDemo)
	src.interval = 50 * time.Millisecond
	src.auto = []kiosk.Frame{demoFrame(t, at)}
	// The consoles in these tests read only while they wait for an
	// answer; under the race detector a capture takes several seconds, in
	// which the default write timeout would evict a console that is not
	// reading its frames. Eviction is tested elsewhere.
	// Stats once a second, not every 50 ms: a console a test leaves unread
	// through a capture would otherwise fill its 64 events and be dropped.
	h := startHarness(t, src, harnessOptions{wrap: wrap, statsInterval: time.Second,
		configure: func(s *web.Server) { s.WriteTimeout = 2 * time.Minute }})
	waitStationFrames(t, h.st)
	return h
}

// waitStationFrames waits until the station has frames to capture from.
func waitStationFrames(t testing.TB, st *kiosk.Station) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last uint64
	for range 3 {
		f, err := st.NextFrame(ctx, last)
		if err != nil {
			t.Fatalf("no frames: %v", err)
		}
		last = f.Seq
	}
}

// result is a "result" message.
type result struct {
	Type  string          `json:"type"`
	For   string          `json:"for"`
	OK    *bool           `json:"ok"`
	Error *resultError    `json:"error"`
	Data  json.RawMessage `json:"data"`
}

type resultError struct {
	Code string `json:"code"`
	Zh   string `json:"zh"`
	En   string `json:"en"`
}

// send writes a text message.
func send(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

// waitText reads until a text message for which match returns true, within
// d; frames and other messages are skipped.
func waitText(t testing.TB, c *websocket.Conn, d time.Duration, what string, match func(raw []byte, m message) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c.SetReadDeadline(deadline)
		mt, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting %v for %s: %v", d, what, err)
		}
		if mt != websocket.TextMessage {
			continue
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("text message %q: %v", data, err)
		}
		if match(data, m) {
			return data
		}
	}
}

// captureTimeout is how long a capture may take in these tests (the race
// detector slows the analysis down several times).
func captureTimeout() time.Duration {
	if raceEnabled {
		return 60 * time.Second
	}
	return 20 * time.Second
}

// waitResult waits for the result of command typ.
func waitResult(t testing.TB, c *websocket.Conn, typ string) result {
	t.Helper()
	raw := waitText(t, c, captureTimeout(), "the result of "+typ, func(_ []byte, m message) bool { return m.Type == "result" })
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	if r.For != typ || r.OK == nil {
		t.Fatalf("result %s; want one for %s with ok", raw, typ)
	}
	return r
}

// waitCapture waits for a capture event in state.
func waitCapture(t testing.TB, c *websocket.Conn, state kiosk.CaptureState) kiosk.Capture {
	t.Helper()
	var got kiosk.Capture
	waitText(t, c, captureTimeout(), "a capture event "+string(state), func(_ []byte, m message) bool {
		if m.Type != kiosk.EventCapture {
			return false
		}
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatalf("capture event %s: %v", m.Data, err)
		}
		return got.State == state
	})
	return got
}

// getPhoto fetches the photo of capture id.
func getPhoto(t testing.TB, addr, id string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/captures/" + id + "/photo.jpg")
	if err != nil {
		t.Fatalf("GET photo %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestWebSocketCaptureReview(t *testing.T) {
	h := startDemoBooth(t, settledAt, nil)
	c := h.dial(t)
	nextText(t, c, "hello")
	other := h.dial(t) // another console sees the same review
	nextText(t, other, "hello")

	send(t, c, `{"type":"capture"}`)
	working := waitCapture(t, c, kiosk.CaptureWorking)
	rev := waitCapture(t, c, kiosk.CaptureReview)
	if rev.ID != working.ID || rev.Report == nil || !rev.Report.OK || rev.Auto {
		t.Fatalf("capture event = %+v; want capture %d under review with a proven report, not auto", rev, working.ID)
	}
	r := waitResult(t, c, "capture")
	var rc kiosk.Capture
	if err := json.Unmarshal(r.Data, &rc); err != nil || !*r.OK || r.Error != nil || rc.ID != rev.ID || rc.State != kiosk.CaptureReview {
		t.Fatalf("capture result = ok %v, error %+v, data %s (%v); want ok with capture %d in review", *r.OK, r.Error, r.Data, err, rev.ID)
	}
	if o := waitCapture(t, other, kiosk.CaptureReview); o.ID != rev.ID {
		t.Errorf("the other console saw capture %d under review; want %d", o.ID, rev.ID)
	}

	id := fmt.Sprint(rev.ID)
	resp, b := getPhoto(t, h.addr, id)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET photo = %s; want 200", resp.Status)
	}
	for k, want := range map[string]string{"Content-Type": "image/jpeg", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("photo %s = %q; want %q", k, got, want)
		}
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 480 || cfg.Height != 640 {
		t.Errorf("photo is %dx%d (%v); want a 480x640 JPEG", cfg.Width, cfg.Height, err)
	}
	if len(b) != rev.Report.Bytes {
		t.Errorf("photo has %d bytes; its report says %d", len(b), rev.Report.Bytes)
	}
	if st := getStatus(t, h.addr); st.Version == "" {
		t.Errorf("status has no version")
	}

	// Retake: the review ends for every console, and the photo is gone.
	send(t, c, fmt.Sprintf(`{"type":"retake","id":%d}`, rev.ID))
	r = waitResult(t, c, "retake")
	if !*r.OK {
		t.Fatalf("retake result %+v; want ok", r)
	}
	if d := waitCapture(t, other, kiosk.CaptureDiscarded); d.ID != rev.ID {
		t.Errorf("discarded capture %d; want %d", d.ID, rev.ID)
	}
	if resp, _ := getPhoto(t, h.addr, id); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET photo after retake = %s; want 404", resp.Status)
	}
	// Retake again: the capture is no longer under review.
	send(t, c, fmt.Sprintf(`{"type":"retake","id":%d}`, rev.ID))
	if r := waitResult(t, c, "retake"); *r.OK || r.Error == nil || r.Error.Code != "no_capture" || r.Error.Zh == "" || r.Error.En == "" {
		t.Errorf("second retake result %+v; want not ok, no_capture, with both messages", r)
	}

	// A new capture, accepted.
	send(t, c, `{"type":"capture"}`)
	rev2 := waitCapture(t, c, kiosk.CaptureReview)
	if rev2.ID == rev.ID {
		t.Fatalf("second capture has the first one's ID %d", rev.ID)
	}
	waitResult(t, c, "capture")
	send(t, c, fmt.Sprintf(`{"type":"accept","id":%d}`, rev2.ID))
	r = waitResult(t, c, "accept")
	var ac kiosk.Capture
	if err := json.Unmarshal(r.Data, &ac); err != nil || !*r.OK || ac.State != kiosk.CaptureAccepted || ac.ID != rev2.ID {
		t.Errorf("accept result %+v (data %s); want ok, capture %d accepted", r, r.Data, rev2.ID)
	}
	if resp, _ := getPhoto(t, h.addr, fmt.Sprint(rev2.ID)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET photo after accept = %s; want 404", resp.Status)
	}
}

func TestWebSocketCaptureBusy(t *testing.T) {
	h := startDemoBooth(t, settledAt, nil)
	a, b := h.dial(t), h.dial(t)
	nextText(t, a, "hello")
	nextText(t, b, "hello")

	// Twice on one connection: the second is refused at once, while the
	// first is still working.
	send(t, a, `{"type":"capture"}`)
	send(t, a, `{"type":"capture"}`)
	first := waitResult(t, a, "capture")
	if *first.OK || first.Error == nil || first.Error.Code != "busy" {
		t.Errorf("second capture on one connection: %+v; want busy first", first)
	}
	if second := waitResult(t, a, "capture"); !*second.OK {
		t.Errorf("first capture: %+v; want ok", second)
	}

	// From another console while a capture is being made (its working
	// event has come; the capture then takes hundreds of milliseconds):
	// busy, for a capture and for a calibration, which shares the
	// station's one slot.
	for _, typ := range []string{"capture", "calibrate"} {
		send(t, a, `{"type":"capture"}`)
		waitCapture(t, a, kiosk.CaptureWorking)
		send(t, b, `{"type":"`+typ+`"}`)
		rb := waitResult(t, b, typ)
		if *rb.OK || rb.Error == nil || rb.Error.Code != "busy" {
			t.Errorf("%s from another console during a capture: %+v; want busy", typ, rb)
		}
		if ra := waitResult(t, a, "capture"); !*ra.OK {
			t.Errorf("the capture beside the %s: %+v; want ok", typ, ra)
		}
	}
}

func TestWebSocketCalibrate(t *testing.T) {
	// With a student in the booth, calibration is refused.
	h := startDemoBooth(t, settledAt, nil)
	c := h.dial(t)
	nextText(t, c, "hello")
	send(t, c, `{"type":"calibrate"}`)
	if r := waitResult(t, c, "calibrate"); *r.OK || r.Error == nil || r.Error.Code != "not_empty" {
		t.Errorf("calibrate with a student in the booth: %+v; want not_empty", r)
	}
	if st := h.st.Status().Calibration; st.Calibrated {
		t.Errorf("calibrated %+v after a refused calibration", st)
	}

	h.stop()

	// The empty booth calibrates, and every console hears of it.
	h = startDemoBooth(t, emptyWallAt, nil)
	c = h.dial(t)
	nextText(t, c, "hello")
	send(t, c, `{"type":"calibrate"}`)
	r := waitResult(t, c, "calibrate")
	var cs kiosk.CalibrationStatus
	if err := json.Unmarshal(r.Data, &cs); err != nil || !*r.OK || !cs.Calibrated || cs.DriftWarn <= 0 {
		t.Fatalf("calibrate result %+v (data %s); want ok and calibrated", r, r.Data)
	}
	waitText(t, c, 5*time.Second, "a calibration event", func(_ []byte, m message) bool {
		var ev kiosk.CalibrationStatus
		return m.Type == kiosk.EventCalibration && json.Unmarshal(m.Data, &ev) == nil && ev.Calibrated
	})
	// The empty booth makes no photo: the capture is refused with the
	// physical fix, which is a successful command.
	send(t, c, `{"type":"capture"}`)
	ref := waitCapture(t, c, kiosk.CaptureRefused)
	if ref.Refusal == nil || ref.Refusal.Code != "no_face" || ref.Refusal.Hint.Zh == "" {
		t.Errorf("capture of the empty booth = %+v; want refused, no_face, with a hint", ref)
	}
	if r := waitResult(t, c, "capture"); !*r.OK {
		t.Errorf("capture result %+v; a refusal is ok", r)
	}
	if resp, _ := getPhoto(t, h.addr, fmt.Sprint(ref.ID)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET photo of a refused capture = %s; want 404", resp.Status)
	}
}

func TestWebSocketCommandsWithoutFrames(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), nil)
	c := h.dial(t)
	nextText(t, c, "hello")
	for _, typ := range []string{"capture", "calibrate"} {
		send(t, c, `{"type":"`+typ+`"}`)
		if r := waitResult(t, c, typ); *r.OK || r.Error == nil || r.Error.Code != "no_frame" || r.Data != nil {
			t.Errorf("%s without frames: %+v; want no_frame and no data", typ, r)
		}
	}
	send(t, c, `{"type":"accept","id":1}`)
	if r := waitResult(t, c, "accept"); *r.OK || r.Error == nil || r.Error.Code != "no_capture" {
		t.Errorf("accept of nothing: %+v; want no_capture", r)
	}
}

// failingStation fails every capture and calibration with an error whose
// text must not reach the screen.
type failingStation struct{ *kiosk.Station }

const secret = "open /dev/video9: secret detail"

func (failingStation) Capture(context.Context, bool) (kiosk.Capture, error) {
	return kiosk.Capture{}, errors.New(secret)
}

func (failingStation) Calibrate(context.Context) (kiosk.CalibrationStatus, error) {
	return kiosk.CalibrationStatus{}, fmt.Errorf("calibrate: %w", errors.New(secret))
}

func TestInternalErrorsStayInTheLog(t *testing.T) {
	h := startHarness(t, newTestSource(kiosk.SourceV4L2), harnessOptions{wrap: func(st *kiosk.Station) web.Station {
		return failingStation{st}
	}})
	c := h.dial(t)
	nextText(t, c, "hello")
	for _, typ := range []string{"capture", "calibrate"} {
		send(t, c, `{"type":"`+typ+`"}`)
		raw := waitText(t, c, 5*time.Second, "a result", func(_ []byte, m message) bool { return m.Type == "result" })
		var r result
		json.Unmarshal(raw, &r)
		if r.For != typ || r.OK == nil || *r.OK || r.Error == nil || r.Error.Code != "internal" || r.Error.Zh == "" {
			t.Errorf("%s result %s; want not ok, internal", typ, raw)
		}
		if strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "video9") {
			t.Errorf("%s result %s shows the internal error", typ, raw)
		}
	}
	resp, err := http.Post("http://"+h.addr+"/api/capture", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "secret") || !strings.Contains(string(body), `"internal"`) {
		t.Errorf("POST /api/capture = %s %s; want 500 with code internal and no detail", resp.Status, body)
	}
}

func TestWebSocketHostileCaptureCommands(t *testing.T) {
	h := startDemoBooth(t, settledAt, nil)
	good := h.dial(t)
	nextText(t, good, "hello")
	send(t, good, `{"type":"capture"}`)
	rev := waitCapture(t, good, kiosk.CaptureReview)
	waitResult(t, good, "capture")

	for _, msg := range []string{
		`{"type":"accept"}`,
		`{"type":"accept","id":null}`,
		`{"type":"accept","id":"1"}`,
		`{"type":"retake","id":-1}`,
		`{"type":"retake","id":0}`,
		`{"type":"accept","id":1.5}`,
		`{"type":"accept","id":[1]}`,
		`{"type":"accept","id":{"id":1}}`,
		`{"type":"retake","id":9007199254740992}`,
		`{"type":"retake","id":18446744073709551615}`,
		`{"type":"accept","id":1` + strings.Repeat("0", 300) + `}`,
		`{"type":"capture","auto":true}`,
		`{"type":"calibrate","id":1}`,
	} {
		t.Run(msg[:min(len(msg), 40)], func(t *testing.T) {
			c := h.dial(t)
			nextText(t, c, "hello")
			send(t, c, msg)
			if got := closeCode(t, c); got != websocket.ClosePolicyViolation {
				t.Errorf("close code after %s = %d; want %d", msg, got, websocket.ClosePolicyViolation)
			}
		})
	}

	// The good console is still served, and the review was not touched.
	send(t, good, `{"type":"ping","id":5}`)
	waitText(t, good, 5*time.Second, "pong", func(_ []byte, m message) bool { return m.Type == "pong" })
	if r := h.st.Status().Review; r == nil || r.ID != rev.ID {
		t.Errorf("review after the attacks = %+v; want capture %d", r, rev.ID)
	}
}

func TestCaptureHTTP(t *testing.T) {
	h := startDemoBooth(t, settledAt, nil)
	base := "http://" + h.addr

	// Bad IDs, and IDs with nothing under review.
	for _, tt := range []struct {
		id   string
		want int
	}{
		{"abc", http.StatusBadRequest},
		{"0", http.StatusBadRequest},
		{"-1", http.StatusBadRequest},
		{"1.5", http.StatusBadRequest},
		{"0x10", http.StatusBadRequest},
		{"9007199254740992", http.StatusBadRequest},
		{"18446744073709551616", http.StatusBadRequest},
		{strings.Repeat("9", 200), http.StatusBadRequest},
		{"%20", http.StatusBadRequest},
		{"1", http.StatusNotFound},
		{"9007199254740991", http.StatusNotFound},
	} {
		if resp, _ := getPhoto(t, h.addr, tt.id); resp.StatusCode != tt.want {
			t.Errorf("GET /api/captures/%s/photo.jpg = %s; want %d", tt.id, resp.Status, tt.want)
		}
	}
	resp, err := http.Get(base + "/api/capture")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/capture = %s; want 404 or 405", resp.Status)
	}

	// A foreign page may neither trigger a capture nor read the photo.
	req, _ := http.NewRequest(http.MethodPost, base+"/api/capture", nil)
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /api/capture from another origin = %v, %v; want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	if r := h.st.Status().Review; r != nil {
		t.Fatalf("a refused request made capture %d", r.ID)
	}

	// The pedal: POST /api/capture answers with the Capture.
	resp, err = http.Post(base+"/api/capture", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var c kiosk.Capture
	err = json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
		c.State != kiosk.CaptureReview || c.Report == nil || c.ID == 0 {
		t.Fatalf("POST /api/capture = %s, %+v (%v); want 200 and a capture under review", resp.Status, c, err)
	}
	req, _ = http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/captures/%d/photo.jpg", base, c.ID), nil)
	req.Host = "evil.example:80"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET photo with a foreign Host = %v, %v; want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, b := getPhoto(t, h.addr, fmt.Sprint(c.ID))
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(b)); resp.StatusCode != http.StatusOK || err != nil || cfg.Width != 480 || cfg.Height != 640 {
		t.Errorf("GET photo = %s, %dx%d (%v); want 200 and a 480x640 JPEG", resp.Status, cfg.Width, cfg.Height, err)
	}
	// Another ID is not this photo.
	if resp, _ := getPhoto(t, h.addr, fmt.Sprint(c.ID+1)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET photo of capture %d = %s; want 404", c.ID+1, resp.Status)
	}
}

func TestCaptureHTTPWithoutFrames(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), nil)
	resp, err := http.Post("http://"+h.addr+"/api/capture", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error resultError `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || err != nil || body.Error.Code != "no_frame" || body.Error.En == "" {
		t.Errorf("POST /api/capture without frames = %s, %+v (%v); want 503 no_frame", resp.Status, body, err)
	}
}
