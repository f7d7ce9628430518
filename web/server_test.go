package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
	"kioskd/web"
)

func TestHealthAndStatus(t *testing.T) {
	src := newTestSource(kiosk.SourceDemo)
	h := startServer(t, src, nil)

	resp, err := http.Get("http://" + h.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /healthz = %s %q; want 200 \"ok\"", resp.Status, body)
	}

	src.put(t, kiosk.Frame{JPEG: []byte("x"), Width: 640, Height: 480, Rotation: 90})
	// The camera status is set when the source starts; wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := getStatus(t, h.addr)
		if s.Camera.State == kiosk.CameraStreaming && s.Stats.Frames >= 1 {
			if s.Version == "" {
				t.Errorf("status version is empty")
			}
			if s.Camera.Source != kiosk.SourceDemo {
				t.Errorf("status camera source = %q; want %q", s.Camera.Source, kiosk.SourceDemo)
			}
			// Stats report the size as shown, after the 90 degree turn.
			if s.Stats.Width != 480 || s.Stats.Height != 640 {
				t.Errorf("status stats size = %dx%d; want 480x640", s.Stats.Width, s.Stats.Height)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed a streaming camera with a frame: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHostAndOrigin(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), func(s *web.Server) {
		s.AllowedHosts = []string{"kiosk.lan", "proxy.example:443"}
	})
	_, port, _ := net.SplitHostPort(h.addr)
	tests := []struct {
		name   string
		path   string
		host   string
		origin string // "" for none
		want   int
	}{
		{"listen address", "/healthz", h.addr, "", 200},
		{"localhost", "/healthz", "localhost:" + port, "", 200},
		{"localhost upper case", "/healthz", "LOCALHOST:" + port, "", 200},
		{"ipv6 loopback", "/healthz", "[::1]:" + port, "", 200},
		{"allowed name on our port", "/api/status", "kiosk.lan:" + port, "", 200},
		{"allowed name with its own port", "/api/status", "proxy.example:443", "", 200},
		{"rebinding name", "/api/status", "evil.example:" + port, "", 403},
		{"rebinding name on index", "/", "evil.example:" + port, "", 403},
		{"loopback on another port", "/healthz", "127.0.0.1:1", "", 403},
		{"no port", "/healthz", "localhost", "", 403},
		{"allowed name on another port", "/healthz", "kiosk.lan:8081", "", 403},
		{"same origin", "/api/status", h.addr, "http://" + h.addr, 200},
		{"localhost origin", "/api/status", h.addr, "http://localhost:" + port, 200},
		{"foreign origin", "/api/status", h.addr, "http://evil.example:" + port, 403},
		{"https origin", "/api/status", h.addr, "https://" + h.addr, 403},
		{"null origin", "/api/status", h.addr, "null", 403},
		{"origin on another port", "/", h.addr, "http://127.0.0.1:1", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", "http://"+h.addr+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s Host %q Origin %q = %d; want %d", tt.path, tt.host, tt.origin, resp.StatusCode, tt.want)
			}
			if tt.want == 403 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("403 Content-Type = %q; want text/plain (%q)", resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

func TestWebSocketOriginAndHost(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), nil)
	tests := []struct {
		name   string
		header http.Header
		want   int // HTTP status of the handshake
	}{
		{"no origin", http.Header{}, http.StatusSwitchingProtocols},
		{"same origin", http.Header{"Origin": {"http://" + h.addr}}, http.StatusSwitchingProtocols},
		{"foreign origin", http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
		{"foreign host", http.Header{"Host": {"evil.example"}}, http.StatusForbidden},
		{"rebinding pair", http.Header{"Host": {"evil.example"}, "Origin": {"http://evil.example"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := websocket.DefaultDialer.Dial("ws://"+h.addr+"/ws", tt.header)
			if c != nil {
				c.Close()
			}
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("handshake status = %d; want %d (err %v)", resp.StatusCode, tt.want, err)
			}
		})
	}
}

func TestStaticFiles(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceV4L2), nil)
	tests := []struct {
		path     string
		want     int
		wantType string
		contains string
	}{
		{"/", 200, "text/html; charset=utf-8", `id="overlay"`},
		{"/app.js", 200, "text/javascript; charset=utf-8", "StationSocket"},
		{"/preview.js", 200, "text/javascript; charset=utf-8", "createImageBitmap"},
		{"/i18n.js", 200, "text/javascript; charset=utf-8", "与站点断开"},
		{"/overlay.js", 200, "text/javascript; charset=utf-8", "class Overlay"},
		{"/socket.js", 200, "text/javascript; charset=utf-8", "arraybuffer"},
		{"/style.css", 200, "text/css; charset=utf-8", ".badge"},
		{"/missing.js", 404, "", ""},
	}
	for _, tt := range tests {
		resp, err := http.Get("http://" + h.addr + tt.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s = %d; want %d", tt.path, resp.StatusCode, tt.want)
			continue
		}
		if tt.want != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tt.wantType {
			t.Errorf("GET %s Content-Type = %q; want %q", tt.path, got, tt.wantType)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q; want no-cache", tt.path, got)
		}
		if !strings.Contains(string(body), tt.contains) {
			t.Errorf("GET %s: body does not contain %q", tt.path, tt.contains)
		}
		if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
			t.Errorf("GET %s: the UI must not reference external URLs", tt.path)
		}
	}
}

func TestBuildVersion(t *testing.T) {
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "(devel)"},
		{"empty version", &debug.BuildInfo{}, true, "(devel)"},
		{"devel", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "(devel)"},
		{"tagged", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true, "v1.2.3"},
		{"tagged with revision", &debug.BuildInfo{
			Main:     debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}},
		}, true, "v1.2.3 0123456789ab"},
		{"devel, modified tree", &debug.BuildInfo{
			Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abcdef"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true, "(devel) abcdef+dirty"},
	}
	for _, tt := range tests {
		if got := web.BuildVersion(tt.info, tt.ok); got != tt.want {
			t.Errorf("BuildVersion(%s) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestListenAndRunErrors(t *testing.T) {
	st := kiosk.NewStation(newTestSource(kiosk.SourceDemo), slog.New(slog.DiscardHandler))
	srv := web.NewServer(st, slog.New(slog.DiscardHandler))
	if err := srv.Run(t.Context()); err == nil {
		t.Errorf("Run before Listen = nil; want an error")
	}
	if _, err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if _, err := srv.Listen("127.0.0.1:0"); err == nil {
		t.Errorf("second Listen = nil; want an error")
	}
	other := web.NewServer(st, slog.New(slog.DiscardHandler))
	if _, err := other.Listen("256.0.0.1:0"); err == nil {
		t.Errorf("Listen on a bad address = nil; want an error")
	}
	// Run with a context that is already done serves nothing, closes the
	// listener and returns nil.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := srv.Run(ctx); err != nil {
		t.Errorf("Run(cancelled) = %v; want nil", err)
	}
	checkNoLeaks(t)
}
