package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kioskd/kiosk"
	"kioskd/web"
)

// The browser tests drive the real UI in headless Chromium against a real
// server and station. One browser serves the whole test binary (started by
// the first test that needs it, stopped in TestMain); each test has its own
// tab and its own server, hence its own origin and localStorage.
//
// Without Chromium the tests skip, unless KIOSK_E2E=1 (as in CI), which
// makes a missing browser a failure. With KIOSK_SCREENSHOT=path.png the
// console's screenshots are also written there (others beside it, as
// path-NAME.png), for the README.

var chrome struct {
	once        sync.Once
	ctx         context.Context // the browser's context; tabs derive from it
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	dir         string
	err         error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.ctx != nil {
		ctx, cancel := context.WithTimeout(chrome.ctx, 10*time.Second)
		chromedp.Cancel(ctx) // closes the browser gracefully
		cancel()
		chrome.cancel()
		chrome.allocCancel()
		os.RemoveAll(chrome.dir)
	}
	os.Exit(code)
}

// chromiumPath finds Debian's chromium or another Chrome on PATH.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startChrome(path string) {
	dir, err := os.MkdirTemp("", "kioskd-chrome-")
	if err != nil {
		chrome.err = err
		return
	}
	chrome.dir = dir
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	chrome.allocCancel, chrome.ctx, chrome.cancel = acancel, ctx, cancel
	// The first Do starts the browser; its context must have no deadline.
	chrome.err = chromedp.Do(ctx)
}

// newTab opens a tab in the shared browser; it closes at the end of the test.
func newTab(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("KIOSK_E2E") == "1" {
			t.Fatal("KIOSK_E2E=1 but no chromium was found")
		}
		t.Skip("no chromium found; install it, or set KIOSK_E2E=1 to make this a failure")
	}
	chrome.once.Do(func() { startChrome(path) })
	if chrome.err != nil {
		t.Fatalf("start chromium: %v", chrome.err)
	}
	tab, cancel := chromedp.NewContext(chrome.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return tab, cancel
}

// do runs steps in tab with a timeout.
func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in tab.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript condition holds in tab. A poll that
// fails because the page was replaced under it (a reload, a navigation) is
// started again in the new page.
func waitFor(t *testing.T, tab context.Context, cond string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
			chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(25*time.Millisecond)))
		if err == nil || !contextLost(err) || time.Until(deadline) < 50*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.kiosk)`))
		t.Fatalf("waiting %v for %s: %v\nwindow.kiosk = %s", timeout, cond, err, state)
	}
}

// contextLost reports whether err says the page's JavaScript context went
// away while an evaluation ran in it.
func contextLost(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Cannot find context with specified id") ||
		strings.Contains(s, "Execution context was destroyed") ||
		strings.Contains(s, "Inspected target navigated or closed")
}

// textOf returns the text of the element with the given id.
func textOf(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	return eval[string](t, tab, fmt.Sprintf(`document.getElementById(%q).textContent.trim()`, id))
}

// screenshot saves a PNG of the page to the test's temp dir, and beside
// KIOSK_SCREENSHOT when that is set (name "" means that path itself).
func screenshot(t *testing.T, tab context.Context, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(t.TempDir(), "console"+suffix(name)+".png")
	if p := os.Getenv("KIOSK_SCREENSHOT"); p != "" {
		file = strings.TrimSuffix(p, filepath.Ext(p)) + suffix(name) + ".png"
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot %s", file)
	return file
}

func suffix(name string) string {
	if name == "" {
		return ""
	}
	return "-" + name
}

// startBooth runs a station whose camera plays a 640x480 scene at 30 fps.
func startBooth(t *testing.T, source string, rotation int) (*harness, *testSource) {
	t.Helper()
	src := newTestSource(source)
	src.interval = time.Second / 30
	for i := range 8 {
		src.auto = append(src.auto, kiosk.Frame{
			JPEG: testJPEG(t, 640, 480, float64(i)*0.8, 85, 3), Width: 640, Height: 480, Rotation: rotation,
		})
	}
	// Stats at the daemon's real rate, so the fps shown is steady.
	return startHarness(t, src, harnessOptions{statsInterval: time.Second}), src
}

func TestBrowserPreview(t *testing.T) {
	h, _ := startBooth(t, kiosk.SourceV4L2, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+h.addr+"/"))
	start := time.Now()
	waitFor(t, tab, `window.kiosk && window.kiosk.framesPainted >= 10`, 5*time.Second)
	t.Logf("10 frames painted %v after the page loaded", time.Since(start).Round(time.Millisecond))

	if got := eval[string](t, tab, `document.getElementById("badge").dataset.state`); got != "live" {
		t.Errorf("badge state = %q; want live", got)
	}
	if got := textOf(t, tab, "badge-label"); got != "已连接" {
		t.Errorf("badge = %q; want 已连接", got)
	}
	version := getStatus(t, h.addr).Version
	waitFor(t, tab, fmt.Sprintf(`document.getElementById("version").textContent === %q`, version), 2*time.Second)
	waitFor(t, tab, `document.getElementById("stat-size").textContent === "640 × 480"`, 2*time.Second)
	waitFor(t, tab, `/^\d+\.\d fps$/.test(document.getElementById("stat-fps").textContent)`, 2*time.Second)
	if n := eval[int](t, tab, `window.kiosk.decodeErrors`); n != 0 {
		t.Errorf("%d frames failed to decode", n)
	}
	// A station without a record queue: no queue panel.
	if eval[bool](t, tab, visible("queue")) || eval[bool](t, tab, `window.kiosk.queue !== null`) {
		t.Error("the queue panel shows on a station without a queue")
	}

	for _, vp := range []struct {
		w, h int64
		name string
	}{{1920, 1080, "1920x1080"}, {1280, 800, "preview"}} {
		do(t, tab, chromedp.EmulateViewport(vp.w, vp.h))
		n := eval[int](t, tab, `window.kiosk.framesPainted`)
		waitFor(t, tab, fmt.Sprintf(`window.kiosk.framesPainted > %d`, n+2), 2*time.Second)
		// The overlay lies exactly on the preview, which fits inside its
		// area, and the details panel is on screen.
		layout := eval[string](t, tab, `(() => {
			const p = document.getElementById("preview").getBoundingClientRect();
			const o = document.getElementById("overlay").getBoundingClientRect();
			const v = document.getElementById("viewport").getBoundingClientRect();
			const d = document.querySelector(".panel").getBoundingClientRect();
			const same = ["x", "y", "width", "height"].every((k) => Math.abs(p[k] - o[k]) < 0.5);
			const inside = p.left >= v.left - 0.5 && p.right <= v.right + 0.5 && p.top >= v.top - 0.5 && p.bottom <= v.bottom + 0.5;
			const big = p.width >= 0.95 * v.width || p.height >= 0.95 * v.height;
			const ratio = Math.abs(p.width / p.height - 640 / 480) < 0.01;
			const panel = d.left >= v.right && d.right <= window.innerWidth + 0.5;
			return [same, inside, big, ratio, panel].map(String).join(",");
		})()`)
		if layout != "true,true,true,true,true" {
			t.Errorf("%dx%d layout (overlay on preview, preview inside its area, filling it, 4:3, panel on screen) = %s", vp.w, vp.h, layout)
		}
		screenshot(t, tab, vp.name)
	}
}

func TestBrowserLanguage(t *testing.T) {
	h, _ := startBooth(t, kiosk.SourceV4L2, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.badge === "live"`, 5*time.Second)

	check := func(lang, badge, heading, button, frameRate string) {
		t.Helper()
		if got := eval[string](t, tab, `document.documentElement.lang`); got != lang {
			t.Errorf("<html lang> = %q; want %q", got, lang)
		}
		if got := textOf(t, tab, "badge-label"); got != badge {
			t.Errorf("%s badge = %q; want %q", lang, got, badge)
		}
		if got := textOf(t, tab, "camera-heading"); got != heading {
			t.Errorf("%s panel heading = %q; want %q", lang, got, heading)
		}
		if got := textOf(t, tab, "lang-toggle"); got != button {
			t.Errorf("%s language button = %q; want %q", lang, got, button)
		}
		if got := eval[string](t, tab, `document.querySelector('[data-i18n="frameRate"]').textContent`); got != frameRate {
			t.Errorf("%s frame rate label = %q; want %q", lang, got, frameRate)
		}
	}
	check("zh-CN", "已连接", "摄像头", "English", "帧率")

	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.documentElement.lang === "en"`, 2*time.Second)
	check("en", "Connected", "Camera", "中文", "Frame rate")
	screenshot(t, tab, "en")

	// The choice survives a reload.
	do(t, tab, chromedp.Reload())
	waitFor(t, tab, `window.kiosk && window.kiosk.badge === "live"`, 5*time.Second)
	check("en", "Connected", "Camera", "中文", "Frame rate")

	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.documentElement.lang === "zh-CN"`, 2*time.Second)
	check("zh-CN", "已连接", "摄像头", "English", "帧率")
}

func TestBrowserSecondClientDrops(t *testing.T) {
	h, _ := startBooth(t, kiosk.SourceV4L2, 0)
	first, _ := newTab(t)
	do(t, first, chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, first, `window.kiosk && window.kiosk.framesPainted >= 5`, 5*time.Second)

	// A second tab connects, shows frames, and is closed.
	second, closeSecond := newTab(t)
	do(t, second, chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, second, `window.kiosk && window.kiosk.framesPainted >= 3`, 5*time.Second)
	closeSecond()
	// A third client drops its TCP connection without a closing handshake.
	raw := h.dial(t)
	nextText(t, raw, "hello")
	raw.UnderlyingConn().Close()

	n := eval[int](t, first, `window.kiosk.framesPainted`)
	waitFor(t, first, fmt.Sprintf(`window.kiosk.framesPainted >= %d`, n+15), 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for web.Clients(h.srv) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d clients after two left; want 1", web.Clients(h.srv))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := eval[int](t, first, `window.kiosk.connects`); got != 1 {
		t.Errorf("first tab connected %d times; want 1 (it never dropped)", got)
	}
}

func TestBrowserCameraStates(t *testing.T) {
	h, src := startBooth(t, kiosk.SourceDemo, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.badge === "demo" && window.kiosk.framesPainted >= 3`, 5*time.Second)
	if got := textOf(t, tab, "badge-label"); got != "演示摄像头" {
		t.Errorf("demo badge = %q; want 演示摄像头", got)
	}
	if !eval[bool](t, tab, `!document.getElementById("demo-ribbon").hidden`) {
		t.Errorf("demo ribbon hidden while the source is the demo camera")
	}
	screenshot(t, tab, "demo")

	tests := []struct {
		status kiosk.CameraStatus
		badge  string
		label  string
		reason string
	}{
		{kiosk.CameraStatus{State: kiosk.CameraReconnecting, Source: kiosk.SourceV4L2, Reason: "device unplugged"}, "reconnecting", "正在重连", "device unplugged"},
		{kiosk.CameraStatus{State: kiosk.CameraBusy, Source: kiosk.SourceV4L2, Reason: "held by another program"}, "busy", "摄像头被占用", "held by another program"},
		{kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: kiosk.SourceReplay}, "replay", "回放", ""},
		{kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: kiosk.SourceV4L2}, "live", "已连接", ""},
	}
	for _, tt := range tests {
		src.setStatus(t, tt.status)
		waitFor(t, tab, fmt.Sprintf(`window.kiosk.badge === %q`, tt.badge), 2*time.Second)
		if got := textOf(t, tab, "badge-label"); got != tt.label {
			t.Errorf("%s badge = %q; want %q", tt.badge, got, tt.label)
		}
		if got := textOf(t, tab, "badge-reason"); got != tt.reason {
			t.Errorf("%s badge reason = %q; want %q", tt.badge, got, tt.reason)
		}
		if eval[bool](t, tab, `!document.getElementById("demo-ribbon").hidden`) {
			t.Errorf("demo ribbon shown for source %s", tt.status.Source)
		}
	}

	// The station goes away: the console says so and keeps trying.
	h.stop()
	waitFor(t, tab, `window.kiosk.badge === "offline"`, 5*time.Second)
	if got := textOf(t, tab, "badge-label"); got != "与站点断开" {
		t.Errorf("offline badge = %q; want 与站点断开", got)
	}
	if got := textOf(t, tab, "notice"); got != "与站点断开" {
		t.Errorf("offline notice = %q; want 与站点断开", got)
	}
	waitFor(t, tab, `document.getElementById("conn-state").textContent.startsWith("与站点断开")`, 2*time.Second)
}

// markerJPEG is a white 640x480 frame with a red block in its top-left
// corner, to see where rotation puts it.
func markerJPEG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			c := color.RGBA{250, 250, 250, 255}
			if x < 100 && y < 80 {
				c = color.RGBA{220, 20, 20, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBrowserRotationAndMirror(t *testing.T) {
	src := newTestSource(kiosk.SourceV4L2)
	src.interval = time.Second / 30
	src.auto = []kiosk.Frame{{JPEG: markerJPEG(t), Width: 640, Height: 480, Rotation: 90}}
	h := startServer(t, src, nil)
	tab, _ := newTab(t)
	do(t, tab, chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.framesPainted >= 3`, 5*time.Second)

	// Turned 90 degrees clockwise: the canvas is portrait and the top-left
	// marker is now top-right. Pixels are read from the canvas, which is
	// never mirrored.
	got := eval[string](t, tab, `(() => {
		const c = document.getElementById("preview");
		const px = (x, y) => Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3));
		const red = ([r, g, b]) => r > 180 && g < 80 && b < 80;
		return [c.width, c.height, red(px(c.width - 20, 20)), red(px(20, 20)), red(px(c.width - 20, c.height - 20))].join(",");
	})()`)
	if got != "480,640,true,false,false" {
		t.Errorf("rotated canvas (width, height, red top-right, red top-left, red bottom-right) = %s; want 480,640,true,false,false", got)
	}
	if got := textOf(t, tab, "cam-rotation"); got != "90°" {
		t.Errorf("rotation shown = %q; want 90°", got)
	}

	// The mirror is on by default, flips the whole stage (preview and
	// overlay together), and is remembered when turned off.
	mirror := func() string {
		return eval[string](t, tab, `[
			document.getElementById("mirror-toggle").getAttribute("aria-pressed"),
			getComputedStyle(document.getElementById("stage")).transform,
		].join(" ")`)
	}
	if got := mirror(); got != "true matrix(-1, 0, 0, 1, 0, 0)" {
		t.Errorf("default mirror = %q; want on, scaleX(-1)", got)
	}
	do(t, tab, chromedp.Click(chromedp.ID("mirror-toggle")))
	if got := mirror(); got != "false none" {
		t.Errorf("mirror after a click = %q; want off", got)
	}
	do(t, tab, chromedp.Reload())
	waitFor(t, tab, `window.kiosk && window.kiosk.framesPainted >= 1`, 5*time.Second)
	if got := mirror(); got != "false none" {
		t.Errorf("mirror after reload = %q; want off (remembered)", got)
	}
}
