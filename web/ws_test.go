package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
	"kioskd/web"
)

func TestWebSocketHelloFramesEvents(t *testing.T) {
	src := newTestSource(kiosk.SourceV4L2)
	h := startServer(t, src, nil)
	c := h.dial(t)

	m, _ := next(t, c)
	if m.Type != "hello" {
		t.Fatalf("first message type = %q; want hello", m.Type)
	}
	var hello struct {
		Version string       `json:"version"`
		Status  kiosk.Status `json:"status"`
	}
	if err := json.Unmarshal(m.Data, &hello); err != nil {
		t.Fatalf("hello data %s: %v", m.Data, err)
	}
	if hello.Version == "" {
		t.Errorf("hello has no version")
	}
	if want := getStatus(t, h.addr).Version; hello.Version != want {
		t.Errorf("hello version %q; /api/status says %q", hello.Version, want)
	}

	// Each frame arrives as exactly the bytes the source put, preceded by a
	// "frame" message whenever the size or rotation changes.
	type meta struct {
		Seq      uint64 `json:"seq"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
		Rotation int    `json:"rotation"`
	}
	frames := []struct {
		f        kiosk.Frame
		wantMeta *meta
	}{
		{kiosk.Frame{JPEG: testJPEG(t, 64, 48, 0, 80, 0), Width: 64, Height: 48}, &meta{1, 64, 48, 0}},
		{kiosk.Frame{JPEG: testJPEG(t, 64, 48, 1, 80, 0), Width: 64, Height: 48}, nil},
		{kiosk.Frame{JPEG: testJPEG(t, 64, 48, 2, 80, 0), Width: 64, Height: 48, Rotation: 90}, &meta{3, 64, 48, 90}},
		{kiosk.Frame{JPEG: testJPEG(t, 48, 64, 3, 80, 0), Width: 48, Height: 64, Rotation: 90}, &meta{4, 48, 64, 90}},
		{kiosk.Frame{JPEG: testJPEG(t, 48, 64, 4, 80, 0), Width: 48, Height: 64, Rotation: 90}, nil},
	}
	for i, fr := range frames {
		src.put(t, fr.f)
		var gotMeta *meta
		for {
			m, data := next(t, c)
			if data != nil {
				if !bytes.Equal(data, fr.f.JPEG) {
					t.Fatalf("frame %d: got %d bytes that differ from the %d the source put", i, len(data), len(fr.f.JPEG))
				}
				break
			}
			if m.Type == "frame" {
				gotMeta = new(meta)
				if err := json.Unmarshal(m.Data, gotMeta); err != nil {
					t.Fatalf("frame data %s: %v", m.Data, err)
				}
			}
		}
		switch {
		case fr.wantMeta == nil && gotMeta != nil:
			t.Errorf("frame %d: unexpected frame message %+v", i, *gotMeta)
		case fr.wantMeta != nil && gotMeta == nil:
			t.Errorf("frame %d: no frame message; want %+v", i, *fr.wantMeta)
		case fr.wantMeta != nil && *gotMeta != *fr.wantMeta:
			t.Errorf("frame %d: frame message %+v; want %+v", i, *gotMeta, *fr.wantMeta)
		}
	}

	// Stats events come from the station's hub. One counted before the
	// last frame was put may still come after it.
	var stats kiosk.Stats
	for i := 0; stats.Frames != uint64(len(frames)); i++ {
		if i == 20 {
			t.Fatalf("stats frames = %d after 20 stats events; want %d", stats.Frames, len(frames))
		}
		m = nextText(t, c, kiosk.EventStats)
		if err := json.Unmarshal(m.Data, &stats); err != nil {
			t.Fatalf("stats data %s: %v", m.Data, err)
		}
	}

	// A camera state change is pushed as it happens.
	src.setStatus(t, kiosk.CameraStatus{State: kiosk.CameraReconnecting, Source: kiosk.SourceV4L2, Reason: "device unplugged"})
	m = nextText(t, c, kiosk.EventCamera)
	var cam kiosk.CameraStatus
	if err := json.Unmarshal(m.Data, &cam); err != nil {
		t.Fatalf("camera data %s: %v", m.Data, err)
	}
	if cam.State != kiosk.CameraReconnecting || cam.Reason != "device unplugged" {
		t.Errorf("camera event = %+v; want reconnecting, device unplugged", cam)
	}
}

func TestWebSocketCommands(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), nil)
	c := h.dial(t)
	nextText(t, c, "hello")

	for _, id := range []uint32{7, 0, 4294967295} {
		if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ping","id":%d}`, id)); err != nil {
			t.Fatalf("write ping: %v", err)
		}
		m := nextText(t, c, "pong")
		if m.ID == nil || *m.ID != id {
			t.Errorf("pong id = %v; want %d", m.ID, id)
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","lang":"en"}`)); err != nil {
		t.Fatalf("write hello: %v", err)
	}
	m := nextText(t, c, "ack")
	var ack struct {
		For  string `json:"for"`
		Lang string `json:"lang"`
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil || ack.For != "hello" || ack.Lang != "en" {
		t.Errorf("ack = %s (%v); want for hello, lang en", m.Data, err)
	}
}

func TestWebSocketHostileMessages(t *testing.T) {
	src := newTestSource(kiosk.SourceV4L2)
	jpg := testJPEG(t, 64, 48, 0, 80, 0)
	src.interval = 10 * time.Millisecond
	src.auto = []kiosk.Frame{{JPEG: jpg, Width: 64, Height: 48}}
	h := startServer(t, src, nil)

	// A well-behaved client watches throughout.
	good := h.dial(t)
	var goodFrames atomic.Int64
	goodDone := make(chan error, 1)
	go func() {
		for {
			mt, _, err := good.ReadMessage()
			if err != nil {
				goodDone <- err
				return
			}
			if mt == websocket.BinaryMessage {
				goodFrames.Add(1)
			}
		}
	}()

	tests := []struct {
		name string
		mt   int
		data []byte
		want int
	}{
		{"not JSON", websocket.TextMessage, []byte("hello?"), websocket.ClosePolicyViolation},
		{"unknown type", websocket.TextMessage, []byte(`{"type":"delete"}`), websocket.ClosePolicyViolation},
		{"unknown field", websocket.TextMessage, []byte(`{"type":"ping","id":1,"admin":true}`), websocket.ClosePolicyViolation},
		{"trailing data", websocket.TextMessage, []byte(`{"type":"ping","id":1}{}`), websocket.ClosePolicyViolation},
		{"nested junk", websocket.TextMessage, []byte(`{"type":"ping","id":[[[[{"x":{"y":[1,2,{}]}}]]]]}`), websocket.ClosePolicyViolation},
		{"deep nesting", websocket.TextMessage, []byte(strings.Repeat("[", 3000) + strings.Repeat("]", 3000)), websocket.CloseMessageTooBig},
		{"huge", websocket.TextMessage, []byte(`{"type":"ping","id":1,"pad":"` + strings.Repeat("x", 32<<10) + `"}`), websocket.CloseMessageTooBig},
		{"binary", websocket.BinaryMessage, jpg, websocket.CloseUnsupportedData},
		{"bad UTF-8", websocket.TextMessage, []byte("{\"type\":\"hello\",\"lang\":\"\xfe\xff\"}"), websocket.CloseInvalidFramePayloadData},
		{"bad language", websocket.TextMessage, []byte(`{"type":"hello","lang":"de"}`), websocket.ClosePolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(t)
			nextText(t, c, "hello")
			if err := c.WriteMessage(tt.mt, tt.data); err != nil {
				t.Fatalf("write: %v", err)
			}
			if got := closeCode(t, c); got != tt.want {
				t.Errorf("close code after %s = %d; want %d", tt.name, got, tt.want)
			}
		})
	}

	// The good client was not disturbed, and new clients are still served.
	before := goodFrames.Load()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-goodDone:
		t.Fatalf("the well-behaved client was disconnected: %v", err)
	default:
	}
	if after := goodFrames.Load(); after-before < 5 {
		t.Errorf("the well-behaved client got %d frames in 300 ms after the attacks; want at least 5", after-before)
	}
	c := h.dial(t)
	nextText(t, c, "hello")
	resp, err := http.Get("http://" + h.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the attacks: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestWebSocketSlowClient checks that a client that stops reading neither
// slows a fast client nor the camera, and is evicted by the write timeout.
func TestWebSocketSlowClient(t *testing.T) {
	src := newTestSource(kiosk.SourceV4L2)
	src.interval = time.Second / 30
	for i := range 4 {
		src.auto = append(src.auto, kiosk.Frame{JPEG: testJPEG(t, 1280, 720, float64(i), 90, 24), Width: 1280, Height: 720})
	}
	t.Logf("frame size %d KB", len(src.auto[0].JPEG)>>10)
	h := startServer(t, src, func(s *web.Server) { s.WriteTimeout = 500 * time.Millisecond })

	// The slow client never reads, and its tiny receive buffer makes the
	// server's writes to it block soon.
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := d.Dial("ws://"+h.addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer slow.Close()

	fast := h.dial(t)
	var fastFrames atomic.Int64
	go func() {
		for {
			mt, _, err := fast.ReadMessage()
			if err != nil {
				return // closed at cleanup
			}
			if mt == websocket.BinaryMessage {
				fastFrames.Add(1)
			}
		}
	}()

	// Watch 3 s in which the slow client stalls and is evicted.
	framesBefore, fastBefore := h.st.Status().Stats.Frames, fastFrames.Load()
	start := time.Now()
	evicted := time.Duration(0)
	for time.Since(start) < 3*time.Second {
		if evicted == 0 && web.Clients(h.srv) == 1 {
			evicted = time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	camera := h.st.Status().Stats.Frames - framesBefore
	got := fastFrames.Load() - fastBefore
	t.Logf("in 3 s: camera %d frames, fast client %d; slow client evicted after %v", camera, got, evicted)
	if camera < 80 {
		t.Errorf("camera put %d frames in 3 s beside a stuck client; want about 90", camera)
	}
	if got < int64(camera)*8/10 {
		t.Errorf("fast client got %d of the camera's %d frames beside a stuck client; want at least 80%%", got, camera)
	}
	if evicted == 0 {
		t.Errorf("stuck client still connected after 3 s with a 500 ms write timeout")
	}
}

// resubscribing wraps a station so that its first event subscription has
// already been dropped for slowness, with one event still buffered.
type resubscribing struct {
	*kiosk.Station
	calls atomic.Int32
}

func (r *resubscribing) Subscribe() *kiosk.Subscription {
	if r.calls.Add(1) > 1 {
		return r.Station.Subscribe()
	}
	hub := &kiosk.Hub{Buffer: 1}
	sub := hub.Subscribe()
	hub.Publish(kiosk.Event{Type: kiosk.EventCamera, Time: time.Now(), Data: kiosk.CameraStatus{State: kiosk.CameraBusy, Reason: "stale"}})
	hub.Publish(kiosk.Event{Type: kiosk.EventStats}) // overflows: dropped
	return sub
}

func TestWebSocketResubscribesAfterDrop(t *testing.T) {
	var wrapped *resubscribing
	h := startHarness(t, newTestSource(kiosk.SourceDemo), harnessOptions{wrap: func(st *kiosk.Station) web.Station {
		wrapped = &resubscribing{Station: st}
		return wrapped
	}})
	c := h.dial(t)
	nextText(t, c, "hello")
	m := nextText(t, c, kiosk.EventCamera) // the buffered event is still delivered
	if !strings.Contains(string(m.Data), "stale") {
		t.Errorf("first camera event = %s; want the buffered one", m.Data)
	}
	m = nextText(t, c, "status")
	var st kiosk.Status
	if err := json.Unmarshal(m.Data, &st); err != nil {
		t.Fatalf("status data %s: %v", m.Data, err)
	}
	if st.Camera.Source != kiosk.SourceDemo {
		t.Errorf("status snapshot camera = %+v; want the station's demo camera", st.Camera)
	}
	if n := wrapped.calls.Load(); n != 2 {
		t.Errorf("Subscribe called %d times; want 2", n)
	}
	// Events flow again on the new subscription.
	nextText(t, c, kiosk.EventStats)
}

func TestWebSocketKeepalive(t *testing.T) {
	// The server drops a client two periods after its last pong: 200 ms
	// periods leave a loaded machine room to answer in time.
	h := startServer(t, newTestSource(kiosk.SourceV4L2), func(s *web.Server) { s.PingPeriod = 200 * time.Millisecond })

	// A client that reads answers pings (gorilla does it while reading) and
	// stays connected well past two periods.
	alive := h.dial(t)
	alive.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := alive.ReadMessage(); err != nil {
			if !strings.Contains(err.Error(), "timeout") {
				t.Fatalf("reading client was disconnected: %v", err)
			}
			break
		}
	}

	// A client that never reads never answers a ping, and is dropped.
	mute := h.dial(t)
	time.Sleep(1200 * time.Millisecond)
	mute.SetReadDeadline(time.Now().Add(2 * time.Second))
	var err error
	for err == nil {
		_, _, err = mute.ReadMessage()
	}
	if strings.Contains(err.Error(), "timeout") {
		t.Errorf("silent client still connected after 6 ping periods")
	}
}

func TestShutdownClosesClients(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), nil)
	a, b := h.dial(t), h.dial(t)
	nextText(t, a, "hello")
	nextText(t, b, "hello")
	got := make(chan int, 2)
	for _, c := range []*websocket.Conn{a, b} {
		go func() { got <- closeCode(t, c) }()
	}
	start := time.Now()
	h.stop() // also checks that Run returned nil and nothing leaked
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with two clients", d)
	}
	for range 2 {
		if code := <-got; code != websocket.CloseGoingAway {
			t.Errorf("close code at shutdown = %d; want %d", code, websocket.CloseGoingAway)
		}
	}
}
