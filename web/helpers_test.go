package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
	"kioskd/web"
)

var _ web.Station = (*kiosk.Station)(nil)

// testSource is a scripted camera. Run reports status, then puts the frames
// sent on feed, and, when interval is set, cycles through auto at that rate.
type testSource struct {
	status   kiosk.CameraStatus
	feed     chan kiosk.Frame
	statuses chan kiosk.CameraStatus
	interval time.Duration
	auto     []kiosk.Frame
}

func newTestSource(source string) *testSource {
	return &testSource{
		status: kiosk.CameraStatus{
			State:  kiosk.CameraStreaming,
			Source: source,
			Device: "/dev/v4l/by-id/usb-Test_Camera-video-index0",
			Format: "MJPEG 640x480 30fps",
		},
		feed:     make(chan kiosk.Frame),
		statuses: make(chan kiosk.CameraStatus),
	}
}

func (s *testSource) Run(ctx context.Context, sink kiosk.FrameSink) error {
	sink.SetCameraStatus(s.status)
	var tick <-chan time.Time
	if s.interval > 0 && len(s.auto) > 0 {
		t := time.NewTicker(s.interval)
		defer t.Stop()
		tick = t.C
	}
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return nil
		case f := <-s.feed:
			sink.PutFrame(f)
		case st := <-s.statuses:
			sink.SetCameraStatus(st)
		case <-tick:
			sink.PutFrame(s.auto[i%len(s.auto)])
			i++
		}
	}
}

// put hands f to the station (through the source) and waits until it has.
func (s *testSource) put(t testing.TB, f kiosk.Frame) {
	t.Helper()
	select {
	case s.feed <- f:
	case <-time.After(5 * time.Second):
		t.Fatal("source did not take the frame")
	}
}

func (s *testSource) setStatus(t testing.TB, st kiosk.CameraStatus) {
	t.Helper()
	select {
	case s.statuses <- st:
	case <-time.After(5 * time.Second):
		t.Fatal("source did not take the status")
	}
}

// harness is a running station and server on 127.0.0.1.
type harness struct {
	st   *kiosk.Station
	srv  *web.Server
	addr string // host:port
	stop func()
}

// startServer runs a station on src and a server on a free loopback port,
// with configure (if not nil) applied to the server before Run. stop (also
// registered as cleanup) stops both, checks that Run returned nil, and that
// no goroutine of the server is left.
func startServer(t testing.TB, src kiosk.FrameSource, configure func(*web.Server)) *harness {
	return startHarness(t, src, harnessOptions{configure: configure})
}

// harnessOptions adjust startHarness.
type harnessOptions struct {
	configure     func(*web.Server)                // applied before Run
	wrap          func(*kiosk.Station) web.Station // stands between server and station
	statsInterval time.Duration                    // 50 ms if 0
	analysis      bool                             // run the framing analysis (off: the tests here are about transport)
}

func startHarness(t testing.TB, src kiosk.FrameSource, o harnessOptions) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st := kiosk.NewStation(src, logger)
	st.StatsInterval = 50 * time.Millisecond
	if !o.analysis {
		st.AnalysisRate = -1
	}
	if o.statsInterval > 0 {
		st.StatsInterval = o.statsInterval
	}
	var ws web.Station = st
	if o.wrap != nil {
		ws = o.wrap(st)
	}
	srv := web.NewServer(ws, logger)
	if o.configure != nil {
		o.configure(srv)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := st.Run(ctx); err != nil {
			errs <- err
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.Run(ctx); err != nil {
			errs <- err
		}
	}()
	var once sync.Once
	h := &harness{st: st, srv: srv, addr: addr.String()}
	h.stop = func() {
		once.Do(func() {
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("server or station did not stop within 10 s")
			}
			close(errs)
			for err := range errs {
				t.Errorf("Run returned %v; want nil", err)
			}
			checkNoLeaks(t)
		})
	}
	t.Cleanup(h.stop)
	return h
}

// leakMarkers are frames that only goroutines of a running server or
// station have on their stacks.
var leakMarkers = []string{"kioskd/web.", "kioskd/kiosk.", "net/http.(*conn).serve", "net/http.(*Server).Serve"}

// checkNoLeaks fails t if, after a grace period, goroutines of the server or
// station are still running.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, m := range leakMarkers {
				if strings.Contains(g, m) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines left after Run returned:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial opens a WebSocket to the harness.
func (h *harness) dial(t testing.TB) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+h.addr+"/ws", nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// message is a text message from the server.
type message struct {
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	ID   *uint32         `json:"id"`
	Data json.RawMessage `json:"data"`
}

// next reads the next message: a text message decoded into m, or a binary
// one returned in frame.
func next(t testing.TB, c *websocket.Conn) (m message, frame []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if mt == websocket.BinaryMessage {
		return message{}, data
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("text message %q: %v", data, err)
	}
	return m, nil
}

// nextText reads until a text message of type typ, skipping everything else.
func nextText(t testing.TB, c *websocket.Conn, typ string) message {
	t.Helper()
	for range 1000 {
		m, frame := next(t, c)
		if frame == nil && m.Type == typ {
			return m
		}
	}
	t.Fatalf("no %q message among 1000", typ)
	return message{}
}

// closeCode reads until the connection fails and returns the close code the
// server sent, or -1 if it ended without a close frame.
func closeCode(t testing.TB, c *websocket.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
	}
}

// testJPEG draws a booth-like scene (a light wall, a head and shoulders, a
// marker that moves with phase), adds sensor-like noise of the given
// amplitude (which makes the file bigger), and encodes it.
func testJPEG(t testing.TB, w, h int, phase float64, quality, noise int) []byte {
	t.Helper()
	rnd := uint32(2463534242) + uint32(phase*1000)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	cx, cy := float64(w)/2, float64(h)*0.42
	rx, ry := float64(h)*0.14, float64(h)*0.19
	mx := float64(w) * (0.1 + 0.8*(0.5+0.5*math.Sin(phase)))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			c := color.RGBA{R: 236, G: 238, B: 240, A: 255} // the wall
			c.R -= uint8(20 * fy / float64(h))
			c.G -= uint8(20 * fy / float64(h))
			dx, dy := (fx-cx)/rx, (fy-cy)/ry
			switch {
			case dx*dx+dy*dy <= 1 && fy < cy-0.55*ry:
				c = color.RGBA{R: 40, G: 32, B: 28, A: 255} // hair
			case dx*dx+dy*dy <= 1:
				c = color.RGBA{R: 226, G: 182, B: 150, A: 255} // face
			case fy > cy+0.8*ry && math.Abs(fx-cx) < float64(h)*0.32-math.Max(0, (cy+1.4*ry-fy)*0.9):
				c = color.RGBA{R: 52, G: 58, B: 70, A: 255} // shoulders
			}
			if math.Abs(fx-mx) < 6 && fy > float64(h)-30 {
				c = color.RGBA{R: 230, G: 60, B: 50, A: 255} // moving marker
			}
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			if noise > 0 {
				rnd ^= rnd << 13
				rnd ^= rnd >> 17
				rnd ^= rnd << 5
				yy = uint8(min(255, max(0, int(yy)+int(rnd%uint32(2*noise+1))-noise)))
			}
			img.Y[img.YOffset(x, y)] = yy
			ci := img.COffset(x, y)
			img.Cb[ci], img.Cr[ci] = cb, cr
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b.Bytes()
}

// getStatus fetches and decodes /api/status.
func getStatus(t testing.TB, addr string) (status struct {
	Version string             `json:"version"`
	Camera  kiosk.CameraStatus `json:"camera"`
	Stats   kiosk.Stats        `json:"stats"`
}) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatalf("GET /api/status: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/status: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /api/status Content-Type = %q; want application/json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatalf("decode /api/status: %v", err)
	}
	return status
}
