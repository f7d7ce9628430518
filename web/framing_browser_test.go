package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kioskd/camera/demo"
	"kioskd/kiosk"
	"kioskd/kiosk/photo"
	"kioskd/web"
)

// The framing tests drive the overlay, the checklist, the verdict card and
// the countdown: with hand-made feedback from a fake station (exact
// expectations), and with the real station analysing the demo camera's
// scene (the whole loop, end to end).

// feedbackStation is a web.Station whose frames come from a real station (a
// scripted camera, no analysis) and whose events are published by the test.
type feedbackStation struct {
	*kiosk.Station
	hub  kiosk.Hub
	addr string // the server's host:port

	mu   sync.Mutex
	last *kiosk.Feedback
}

func (f *feedbackStation) Subscribe() *kiosk.Subscription { return f.hub.Subscribe() }

func (f *feedbackStation) Status() kiosk.Status {
	st := f.Station.Status()
	f.mu.Lock()
	st.Feedback = f.last
	f.mu.Unlock()
	return st
}

func (f *feedbackStation) feedback(fb kiosk.Feedback) {
	f.mu.Lock()
	f.last = &fb
	f.mu.Unlock()
	f.hub.Publish(kiosk.Event{Type: kiosk.EventFeedback, Time: time.Now(), Data: fb})
}

// repeatFeedback publishes fb again every period until stop is called, so
// that the console keeps it fresh (framing.js's STALE_MS) through the slow
// steps of a test. stop waits for the last publish; calling it again does
// nothing.
func (f *feedbackStation) repeatFeedback(t *testing.T, fb kiosk.Feedback, period time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				f.feedback(fb)
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func (f *feedbackStation) countdown(c kiosk.Countdown) {
	f.hub.Publish(kiosk.Event{Type: kiosk.EventCountdown, Time: time.Now(), Data: c})
}

// startFeedbackBooth serves a camera that plays a 640x480 scene turned by
// rotation, with events from the returned fake.
func startFeedbackBooth(t *testing.T, rotation int) *feedbackStation {
	t.Helper()
	src := newTestSource(kiosk.SourceV4L2)
	src.interval = time.Second / 30
	for i := range 4 {
		src.auto = append(src.auto, kiosk.Frame{
			JPEG: testJPEG(t, 640, 480, float64(i)*0.8, 85, 3), Width: 640, Height: 480, Rotation: rotation,
		})
	}
	var fs *feedbackStation
	h := startHarness(t, src, harnessOptions{wrap: func(st *kiosk.Station) web.Station {
		st.AnalysisRate = -1 // the test makes the feedback
		fs = &feedbackStation{Station: st}
		return fs
	}})
	fs.addr = h.addr
	return fs
}

// hint is a hand-made hint that names the check, so a test can tell which
// check's hint it sees.
func hint(id photo.CheckID) *photo.Hint {
	return &photo.Hint{Zh: "请调整" + string(id), En: "Adjust " + string(id)}
}

// makeFeedback returns a feedback on a w x h (upright) frame with a face,
// the crop window at crop (frame pixels, 480x640 output), and the given
// statuses (checks not named pass).
func makeFeedback(w, h int, crop photo.Rect, statuses map[photo.CheckID]photo.Status) kiosk.Feedback {
	fb := kiosk.Feedback{
		Seq:        1,
		FrameTime:  time.Now(),
		Spec:       kiosk.SpecInfo{ID: photo.DefaultSpecID, Width: 480, Height: 640},
		Background: string(photo.BackgroundReplace),
		HoldMS:     700,
	}
	a := &fb.Analysis
	a.Faces = 1
	a.Ready = true
	for _, id := range photo.CheckIDs {
		c := photo.CheckResult{ID: id, Status: photo.StatusPass, Value: 1, Limit: 2}
		if st, ok := statuses[id]; ok {
			c.Status = st
		}
		switch c.Status {
		case photo.StatusFail, photo.StatusWarn:
			c.Value = 3
			c.Hint = hint(id)
			a.Ready = false
		case photo.StatusSkip:
			c.Value, c.Limit = 0, 0
			a.Ready = false
		}
		a.Checks = append(a.Checks, c)
	}
	scale := 480 / crop.W
	g := &a.Geometry
	g.Width, g.Height, g.Found = w, h, true
	g.Crop = photo.Crop{Rect: crop, Scale: scale, Inside: true}
	g.Output = photo.Output{
		EyeY: 250, CrownY: 80, FaceWidth: 220, CentreX: 240, IPD: 100,
		EyeBand: [2]int{215, 285}, CrownBand: [2]int{60, 100}, FaceWidthBand: [2]int{200, 260}, CentreLine: 240,
	}
	eyeY := crop.Y + 250/scale
	g.Pupils = [2]photo.Point{{X: crop.X + 190/scale, Y: eyeY}, {X: crop.X + 290/scale, Y: eyeY}}
	g.EyeMid = photo.Point{X: crop.X + 240/scale, Y: eyeY}
	g.EyesFound = true
	return fb
}

// noFace is the feedback on a frame without a face.
func noFace(w, h int) kiosk.Feedback {
	fb := makeFeedback(w, h, photo.Rect{W: 1, H: 1}, nil)
	fb.Analysis = photo.Analysis{Geometry: photo.Geometry{Width: w, Height: h}}
	fb.Checks = []photo.CheckResult{{ID: photo.CheckFaceCount, Status: photo.StatusFail, Limit: 1, Hint: hint(photo.CheckFaceCount)}}
	for _, id := range photo.CheckIDs[1:] {
		fb.Checks = append(fb.Checks, photo.CheckResult{ID: id, Status: photo.StatusSkip})
	}
	return fb
}

// shownChecks returns the check ids in the order the checklist shows them
// on screen (by position, not DOM order), with their statuses.
func shownChecks(t *testing.T, tab context.Context) []string {
	t.Helper()
	return eval[[]string](t, tab, `[...document.querySelectorAll("#checklist .check")]
		.map((li) => ({ top: li.getBoundingClientRect().top, s: li.dataset.id + ":" + li.dataset.status }))
		.sort((a, b) => a.top - b.top).map((r) => r.s)`)
}

// kioskChecks returns window.kiosk.checklist as "id:status".
func kioskChecks(t *testing.T, tab context.Context) []string {
	t.Helper()
	return eval[[]string](t, tab, `window.kiosk.checklist.map((c) => c.id + ":" + c.status)`)
}

func TestBrowserChecklistOrderAndLanguage(t *testing.T) {
	fs := startFeedbackBooth(t, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+fs.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.framesPainted >= 2`, 5*time.Second)
	if got := eval[string](t, tab, `window.kiosk.verdict`); got != "waiting" {
		t.Errorf("verdict before any feedback = %q; want waiting", got)
	}

	crop := photo.Rect{X: 200, Y: 20, W: 240, H: 320}
	fb := makeFeedback(640, 480, crop, map[photo.CheckID]photo.Status{
		photo.CheckFraming:    photo.StatusWarn,
		photo.CheckYaw:        photo.StatusWarn,
		photo.CheckRoll:       photo.StatusFail,
		photo.CheckBackground: photo.StatusSkip,
		photo.CheckResolution: photo.StatusFail,
	})
	fs.feedback(fb)
	waitFor(t, tab, `window.kiosk.feedbacks >= 1 && window.kiosk.checklist.length === 13`, 3*time.Second)
	// The same feedback keeps coming, as the station's does, until the
	// checklist's settling is tested: a feedback the console has not had
	// for 1.5 s goes stale, and the panel says it is waiting.
	stopRepeat := fs.repeatFeedback(t, fb, 300*time.Millisecond)

	// Failing first, then warnings, then what could not be measured, then
	// the passing checks; each group in report order.
	want := []string{"resolution:fail", "roll:fail", "framing:warn", "yaw:warn", "background:skip"}
	for _, id := range photo.CheckIDs {
		if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, string(id)+":") }) {
			want = append(want, string(id)+":pass")
		}
	}
	if got := kioskChecks(t, tab); !slices.Equal(got, want) {
		t.Errorf("window.kiosk.checklist = %v; want %v", got, want)
	}
	if got := shownChecks(t, tab); !slices.Equal(got, want) {
		t.Errorf("checklist on screen, top to bottom = %v; want %v", got, want)
	}

	// The first failing check's hint is the verdict, in big type; the other
	// failing and warning rows carry their own hints.
	type texts struct {
		Verdict, Title, Sub, RollHint, YawHint, PassHint, RollName string
		TitlePx, HintPx                                            float64
	}
	read := func() texts {
		t.Helper()
		s := eval[string](t, tab, `JSON.stringify({
			Verdict: window.kiosk.verdict,
			Title: document.querySelector("#verdict .verdict-title").textContent,
			Sub: document.querySelector("#verdict .verdict-sub").textContent,
			RollHint: document.querySelector('.check[data-id="roll"] .check-hint').textContent,
			YawHint: document.querySelector('.check[data-id="yaw"] .check-hint').textContent,
			PassHint: document.querySelector('.check[data-id="eyes_open"] .check-hint').textContent,
			RollName: document.querySelector('.check[data-id="roll"] .check-name').textContent,
			TitlePx: parseFloat(getComputedStyle(document.querySelector("#verdict .verdict-title")).fontSize),
			HintPx: parseFloat(getComputedStyle(document.querySelector('.check[data-id="roll"] .check-hint')).fontSize),
		})`)
		var x texts
		if err := json.Unmarshal([]byte(s), &x); err != nil {
			t.Fatalf("decode %s: %v", s, err)
		}
		return x
	}
	zh := read()
	wantZh := texts{Verdict: "fail", Title: "请调整resolution", Sub: "距离（清晰度） · 另有 3 项需调整",
		RollHint: "请调整roll", YawHint: "请调整yaw", PassHint: "", RollName: "头部摆正"}
	if got := zh; got.Verdict != wantZh.Verdict || got.Title != wantZh.Title || got.Sub != wantZh.Sub ||
		got.RollHint != wantZh.RollHint || got.YawHint != wantZh.YawHint || got.PassHint != "" || got.RollName != wantZh.RollName {
		t.Errorf("zh-CN panel = %+v; want %+v", got, wantZh)
	}
	if zh.TitlePx < 1.4*zh.HintPx {
		t.Errorf("verdict hint is %.0f px, row hints %.0f px; want the verdict clearly bigger", zh.TitlePx, zh.HintPx)
	}
	screenshot(t, tab, "synthetic")

	// The same verdict again touches nothing: at 15 Hz, only what changed
	// is written.
	eval[bool](t, tab, `(() => {
		window.mutations = 0;
		const mo = new MutationObserver((records) => { window.mutations += records.length; });
		for (const id of ["verdict", "checklist"]) {
			mo.observe(document.getElementById(id), { subtree: true, childList: true, attributes: true, characterData: true });
		}
		return true;
	})()`)
	n := eval[int](t, tab, `window.kiosk.feedbacks`)
	for range 5 {
		fs.feedback(fb)
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, tab, fmt.Sprintf(`window.kiosk.feedbacks >= %d`, n+5), 2*time.Second)
	if m := eval[int](t, tab, `window.mutations`); m != 0 {
		t.Errorf("5 identical feedbacks made %d DOM mutations in the panel; want 0", m)
	}

	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.documentElement.lang === "en"`, 2*time.Second)
	en := read()
	wantEn := texts{Verdict: "fail", Title: "Adjust resolution", Sub: "Distance (resolution) · 3 more to fix",
		RollHint: "Adjust roll", YawHint: "Adjust yaw", RollName: "Head level"}
	if en.Verdict != wantEn.Verdict || en.Title != wantEn.Title || en.Sub != wantEn.Sub ||
		en.RollHint != wantEn.RollHint || en.YawHint != wantEn.YawHint || en.PassHint != "" || en.RollName != wantEn.RollName {
		t.Errorf("English panel = %+v; want %+v", en, wantEn)
	}
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.documentElement.lang === "zh-CN" && document.querySelector("#verdict .verdict-title").textContent === "请调整resolution"`, 2*time.Second)

	// A check that passes for one frame and fails again does not move; one
	// that keeps passing moves down, after the settle time.
	changes := func() string {
		return fmt.Sprintf("%s (changed %d times)", strings.Join(kioskChecks(t, tab), ","), eval[int](t, tab, `window.kiosk.checklistChanges`))
	}
	stopRepeat()
	before := changes()
	blip := makeFeedback(640, 480, crop, map[photo.CheckID]photo.Status{
		photo.CheckFraming: photo.StatusWarn, photo.CheckYaw: photo.StatusWarn,
		photo.CheckBackground: photo.StatusSkip, photo.CheckResolution: photo.StatusFail,
	})
	n = eval[int](t, tab, `window.kiosk.feedbacks`)
	fs.feedback(blip)
	time.Sleep(40 * time.Millisecond)
	fs.feedback(fb)
	waitFor(t, tab, fmt.Sprintf(`window.kiosk.feedbacks >= %d`, n+2), 2*time.Second)
	time.Sleep(600 * time.Millisecond)
	if got := changes(); got != before {
		t.Errorf("after a one-frame blip the checklist is %s; want it unchanged: %s", got, before)
	}
	fs.feedback(blip)
	waitFor(t, tab, `window.kiosk.checklist[1].id === "framing" && window.kiosk.checklist.find((c) => c.id === "roll").status === "pass"`, 2*time.Second)

	// No face: nothing drawn, and the checklist says why.
	fs.feedback(noFace(640, 480))
	waitFor(t, tab, `window.kiosk.checklist[0].id === "face_count" && window.kiosk.checklist[0].status === "fail" && !window.kiosk.overlay.guides`, 2*time.Second)
	if got := textOf(t, tab, "verdict"); !strings.Contains(got, "请调整face_count") {
		t.Errorf("verdict without a face = %q; want the face_count hint", got)
	}
	if n := eval[int](t, tab, `(() => {
		const c = document.getElementById("overlay");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
		return n;
	})()`); n != 0 {
		t.Errorf("%d overlay pixels drawn without a face; want none", n)
	}

	// Feedback that stops coming goes stale: the card says it is waiting.
	waitFor(t, tab, `window.kiosk.verdict === "waiting"`, 3*time.Second)
}

// pixel is the expression for the RGBA of overlay canvas pixel (x, y), in
// canvas pixels.
const pixelJS = `((x, y) => Array.from(document.getElementById("overlay").getContext("2d").getImageData(Math.round(x), Math.round(y), 1, 1).data))`

func TestBrowserOverlayGeometry(t *testing.T) {
	tests := []struct {
		name     string
		rotation int
		w, h     int // geometry's upright frame size
		crop     photo.Rect
		guides   bool
	}{
		{"landscape", 0, 640, 480, photo.Rect{X: 200, Y: 20, W: 240, H: 320}, true},
		{"turned 90", 90, 480, 640, photo.Rect{X: 120, Y: 100, W: 300, H: 400}, true},
		{"stale shape", 90, 640, 480, photo.Rect{X: 200, Y: 20, W: 240, H: 320}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := startFeedbackBooth(t, tt.rotation)
			tab, _ := newTab(t)
			do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+fs.addr+"/"))
			waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.framesPainted >= 2`, 5*time.Second)
			fb := makeFeedback(tt.w, tt.h, tt.crop, map[photo.CheckID]photo.Status{photo.CheckResolution: photo.StatusFail})
			fs.feedback(fb)
			waitFor(t, tab, `window.kiosk.feedbacks >= 1 && window.kiosk.checklist.length === 13`, 3*time.Second)
			// Kept fresh through the pixel checks: a stale feedback's
			// guides are cleared.
			stopRepeat := fs.repeatFeedback(t, fb, 300*time.Millisecond)
			if got := eval[bool](t, tab, `window.kiosk.overlay.guides`); got != tt.guides {
				t.Fatalf("guides drawn = %v; want %v", got, tt.guides)
			}
			if !tt.guides {
				return
			}
			// The crop window lands where the frame's pixels are on the
			// canvas: the overlay canvas has the preview's shape.
			cw := eval[float64](t, tab, `document.getElementById("overlay").width`)
			ch := eval[float64](t, tab, `document.getElementById("overlay").height`)
			if pw, ph := eval[float64](t, tab, `document.getElementById("preview").width`), eval[float64](t, tab, `document.getElementById("preview").height`); pw != float64(tt.w) || ph != float64(tt.h) {
				t.Fatalf("preview canvas %vx%v; want the upright frame %dx%d", pw, ph, tt.w, tt.h)
			}
			sx, sy := cw/float64(tt.w), ch/float64(tt.h)
			want := []float64{tt.crop.X * sx, tt.crop.Y * sy, tt.crop.W * sx, tt.crop.H * sy}
			got := eval[[]float64](t, tab, `window.kiosk.overlay.crop`)
			for i := range want {
				if len(got) != 4 || got[i] < want[i]-1.5 || got[i] > want[i]+1.5 {
					t.Fatalf("crop window on the canvas = %v; want %v", got, want)
				}
			}
			px := func(x, y float64) []int {
				return eval[[]int](t, tab, fmt.Sprintf(`%s(%f, %f)`, pixelJS, x, y))
			}
			// The crop's left edge is red (resolution fails), outside is
			// dimmed, inside clear between the guides.
			edge := px(want[0], want[1]+want[3]/2)
			if edge[0] < 180 || edge[1] > 120 || edge[3] < 200 {
				t.Errorf("crop edge pixel = %v; want opaque red", edge)
			}
			out := px(want[0]/2, ch/2)
			if tt.crop.X > 4 && (out[3] < 40 || out[3] > 160) {
				t.Errorf("pixel outside the crop = %v; want dimmed (partly transparent dark)", out)
			}
			// Output point (60, 160) is in no band: clear.
			in := px(want[0]+60*want[2]/480, want[1]+160*want[3]/640)
			if in[3] != 0 {
				t.Errorf("pixel inside the crop window = %v; want transparent", in)
			}
			// The eye band (output rows 215-285) is tinted, and the pupils
			// are marked.
			band := px(want[0]+60*want[2]/480, want[1]+250*want[3]/640)
			if band[3] == 0 {
				t.Errorf("pixel in the eye band = %v; want tinted", band)
			}
			p := fb.Geometry.Pupils[0]
			if m := px(p.X*sx, p.Y*sy); m[3] < 200 || m[0] < 200 {
				t.Errorf("pixel at the pupil = %v; want a white mark", m)
			}

			// Mirroring flips the canvas on screen, not its pixels; the
			// guides are redrawn (labels turned back) and stay in place.
			stopRepeat() // from here, a draw is the mirror's or the feedback's below
			draws := eval[int](t, tab, `window.kiosk.overlay.draws`)
			do(t, tab, chromedp.Click(chromedp.ID("mirror-toggle")))
			waitFor(t, tab, `window.kiosk.mirror === false`, 2*time.Second)
			fs.feedback(fb)
			waitFor(t, tab, fmt.Sprintf(`window.kiosk.overlay.draws > %d`, draws), 2*time.Second)
			if got := eval[[]float64](t, tab, `window.kiosk.overlay.crop`); len(got) != 4 || got[0] < want[0]-1.5 || got[0] > want[0]+1.5 {
				t.Errorf("crop window after turning the mirror off = %v; want %v", got, want)
			}
		})
	}
}

func TestBrowserCountdown(t *testing.T) {
	fs := startFeedbackBooth(t, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+fs.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.framesPainted >= 2`, 5*time.Second)

	crop := photo.Rect{X: 200, Y: 20, W: 240, H: 320}
	steady := makeFeedback(640, 480, crop, nil)
	steady.Steady, steady.HeldMS = true, 900
	hold := makeFeedback(640, 480, crop, nil)
	hold.HeldMS = 350

	// Every check passes but not yet long enough: hold still.
	fs.feedback(hold)
	waitFor(t, tab, `window.kiosk.verdict === "hold"`, 2*time.Second)
	if got := textOf(t, tab, "verdict"); !strings.Contains(got, "请保持不动") {
		t.Errorf("hold verdict = %q; want 请保持不动", got)
	}

	// Steady: ready, and the countdown runs over the preview.
	fs.feedback(steady)
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownRunning, RemainingMS: 2400, TotalMS: 3000})
	waitFor(t, tab, `window.kiosk.verdict === "ready" && window.kiosk.countdown.shown`, 2*time.Second)
	if got := textOf(t, tab, "countdown"); got != "3" {
		t.Errorf("countdown shows %q with 2.4 s left; want 3", got)
	}
	if got := textOf(t, tab, "verdict"); !strings.Contains(got, "可以拍摄") || !strings.Contains(got, "3 秒后自动拍摄") {
		t.Errorf("ready verdict = %q; want 可以拍摄 and 3 秒后自动拍摄", got)
	}
	screenshot(t, tab, "countdown")
	fs.feedback(steady)
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownRunning, RemainingMS: 900, TotalMS: 3000})
	waitFor(t, tab, `document.getElementById("countdown").textContent.trim() === "1"`, 2*time.Second)

	// Cancelled: the ring goes away.
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownCancelled, TotalMS: 3000})
	waitFor(t, tab, `!window.kiosk.countdown.shown && document.getElementById("countdown").hidden`, 2*time.Second)
	if n := eval[int](t, tab, `window.kiosk.countdown.flashes`); n != 0 {
		t.Errorf("%d flashes after a cancelled countdown; want 0", n)
	}

	// Done: a flash, and no ring.
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownRunning, RemainingMS: 100, TotalMS: 3000})
	waitFor(t, tab, `window.kiosk.countdown.shown`, 2*time.Second)
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownDone, TotalMS: 3000})
	waitFor(t, tab, `window.kiosk.countdown.flashes === 1 && !window.kiosk.countdown.shown`, 2*time.Second)
	if !eval[bool](t, tab, `document.getElementById("flash").classList.contains("on")`) {
		t.Errorf("flash element not animating after done")
	}

	// A running countdown hides when the framing stops being steady, and
	// when its messages stop coming.
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownRunning, RemainingMS: 2000, TotalMS: 3000})
	waitFor(t, tab, `window.kiosk.countdown.shown`, 2*time.Second)
	fs.feedback(hold)
	waitFor(t, tab, `!window.kiosk.countdown.shown && window.kiosk.verdict === "hold"`, 2*time.Second)
	fs.feedback(steady)
	fs.countdown(kiosk.Countdown{State: kiosk.CountdownRunning, RemainingMS: 2000, TotalMS: 3000})
	waitFor(t, tab, `window.kiosk.countdown.shown`, 2*time.Second)
	start := time.Now()
	waitFor(t, tab, `!window.kiosk.countdown.shown`, 3*time.Second)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("countdown hid %v after its last message; want it to wait for more", d)
	}
}

// sceneState is the part of window.kiosk the demo scene test reads.
type sceneState struct {
	Verdict, Title string
	Checklist      []struct{ ID, Status string }
	Overlay        struct {
		Guides bool
		Crop   []float64
		Colour string
	}
	// EdgeAlpha is the highest alpha of overlay pixels on the crop
	// window's edge, -1 when no edge point is on the canvas.
	EdgeAlpha int
}

// sceneSnapshot waits until cond holds and returns the state at that
// moment: condition and state are read in one evaluation, between two
// redraws, so they agree even while the scene moves.
func sceneSnapshot(t *testing.T, tab context.Context, cond string, timeout time.Duration) sceneState {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, timeout+5*time.Second)
	defer cancel()
	expr := `(` + cond + `) && JSON.stringify({
		Verdict: window.kiosk.verdict, Title: window.kiosk.verdictTitle,
		Checklist: window.kiosk.checklist, Overlay: window.kiosk.overlay,
		EdgeAlpha: (() => {
			const c = document.getElementById("overlay");
			if (!window.kiosk.overlay.crop) return -1;
			const [x, y, w, h] = window.kiosk.overlay.crop;
			const pts = [[x + w / 4, y], [x, y + h / 2], [x + w, y + h / 2], [x + w / 4, y + h]];
			let alpha = -1;
			for (const [px, py] of pts.map((p) => p.map(Math.floor))) {
				if (px < 0 || py < 0 || px >= c.width || py >= c.height) continue;
				alpha = Math.max(alpha, c.getContext("2d").getImageData(px, py, 1, 1).data[3]);
			}
			return alpha;
		})(),
	})`
	s, err := chromedp.Run(ctx, chromedp.Poll[string](expr,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.kiosk)`))
		t.Fatalf("waiting %v for %s: %v\nwindow.kiosk = %s", timeout, cond, err, state)
	}
	var st sceneState
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return st
}

// clipSource plays two frames of the demo scene in a loop: the student
// with the head tilted for tiltFor, then settled (centred, level, still)
// for the rest of each loop. Only two frames are rendered, so the test
// stays quick under the race detector, which slows the full scene's
// first-loop rendering down to about a frame a second.
type clipSource struct {
	tilted, settled kiosk.Frame
	tiltFor, loop   time.Duration
}

func newClipSource(t *testing.T) *clipSource {
	t.Helper()
	s := demo.NewScene()
	at := func(d time.Duration) kiosk.Frame {
		f, err := s.Frame(int(d * time.Duration(s.Frames()) / demo.LoopLength))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return &clipSource{tilted: at(6 * time.Second), settled: at(10 * time.Second), tiltFor: 4 * time.Second, loop: 20 * time.Second}
}

func (c *clipSource) Run(ctx context.Context, sink kiosk.FrameSink) error {
	sink.SetCameraStatus(kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: kiosk.SourceDemo, Format: "MJPEG 1280x720 15fps (demo)"})
	tick := time.NewTicker(time.Second / 15)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		f := c.settled
		if time.Since(start)%c.loop < c.tiltFor {
			f = c.tilted
		}
		sink.PutFrame(f)
	}
}

// TestBrowserDemoScene runs the real station with its framing analysis on
// frames of the demo scene: the console shows a failing hint (the tilted
// head) with the guides drawn, and turns ready once the student settles.
func TestBrowserDemoScene(t *testing.T) {
	h := startHarness(t, newClipSource(t), harnessOptions{statsInterval: time.Second, analysis: true})
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.badge === "demo" && window.kiosk.framesPainted >= 1`, 10*time.Second)
	start := time.Now()
	phase := 30 * time.Second
	if raceEnabled {
		phase = 60 * time.Second // the analysis itself is several times slower
	}

	// A failing phase with a face: the guides are drawn, the top failing
	// check's hint is the verdict.
	failing := sceneSnapshot(t, tab, `window.kiosk.verdict === "fail" && window.kiosk.overlay.guides &&
		window.kiosk.checklist[0].id !== "face_count"`, phase)
	lead := failing.Checklist[0]
	t.Logf("failing after %v: %q (%s %s)", time.Since(start).Round(time.Millisecond), failing.Title, lead.ID, lead.Status)
	if lead.Status != "fail" || failing.Title == "" {
		t.Errorf("failing state: verdict %q, first check %+v; want a failing check with a hint", failing.Title, lead)
	}
	if failing.EdgeAlpha >= 0 && failing.EdgeAlpha < 200 {
		t.Errorf("crop window edge pixels have alpha %d; want the edge drawn", failing.EdgeAlpha)
	}
	screenshot(t, tab, "failing")

	// The scene settles: every check passes and the verdict turns ready.
	// The screenshot is kept only if the console was ready before and
	// after it was taken.
	var ready sceneState
	for attempt := 0; attempt < 4; attempt++ {
		ready = sceneSnapshot(t, tab, `window.kiosk.verdict === "ready"`, phase)
		screenshot(t, tab, "")
		if eval[string](t, tab, `window.kiosk.verdict`) == "ready" {
			break
		}
	}
	t.Logf("ready after %v", time.Since(start).Round(time.Millisecond))
	if ready.Title != "可以拍摄" {
		t.Errorf("ready verdict says %q; want 可以拍摄", ready.Title)
	}
	for _, c := range ready.Checklist {
		if c.Status != "pass" {
			t.Errorf("check %s is %s when ready; want pass (the one that failed first was %s)", c.ID, c.Status, lead.ID)
		}
	}
	if !ready.Overlay.Guides || ready.Overlay.Colour != "#2fbf71" || ready.EdgeAlpha == 0 {
		t.Errorf("overlay when ready = %+v; want guides with a green crop window", ready.Overlay)
	}
}

// TestBrowserValueText checks the small value-against-limit text of each
// kind of check, evaluated by the console's own module.
func TestBrowserValueText(t *testing.T) {
	fs := startFeedbackBooth(t, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.Navigate("http://"+fs.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected`, 5*time.Second)
	tests := []struct {
		r    photo.CheckResult
		want string
	}{
		{photo.CheckResult{ID: photo.CheckFaceCount, Status: photo.StatusFail, Value: 2, Limit: 1}, "2 / 1"},
		{photo.CheckResult{ID: photo.CheckFraming, Status: photo.StatusFail, Value: 45.051, Measure: "left"}, "45 px"},
		{photo.CheckResult{ID: photo.CheckResolution, Status: photo.StatusFail, Value: 633.6, Limit: 640}, "634 px < 640 px"},
		{photo.CheckResult{ID: photo.CheckResolution, Status: photo.StatusPass, Value: 646.47, Limit: 640}, "646 px ≥ 640 px"},
		{photo.CheckResult{ID: photo.CheckRoll, Status: photo.StatusFail, Value: -7.56, Limit: 2}, "-7.6° > ±2.0°"},
		{photo.CheckResult{ID: photo.CheckYaw, Status: photo.StatusPass, Value: 0.5, Limit: 5}, "0.5° ≤ ±5.0°"},
		{photo.CheckResult{ID: photo.CheckEyesOpen, Status: photo.StatusFail, Value: 0.031, Limit: 0.07}, "0.03 < 0.07"},
		{photo.CheckResult{ID: photo.CheckMouthClosed, Status: photo.StatusFail, Value: 0.12, Limit: 0.08}, "0.12 > 0.08"},
		{photo.CheckResult{ID: photo.CheckExposure, Status: photo.StatusFail, Value: 0.3, Limit: 0.35, Measure: "luma"}, "0.30 < 0.35"},
		{photo.CheckResult{ID: photo.CheckExposure, Status: photo.StatusFail, Value: 0.7, Limit: 0.65, Measure: "luma"}, "0.70 > 0.65"},
		{photo.CheckResult{ID: photo.CheckExposure, Status: photo.StatusPass, Value: 0.49, Limit: 0.65}, "0.49 ≤ 0.65"},
		{photo.CheckResult{ID: photo.CheckLighting, Status: photo.StatusFail, Value: -0.14, Limit: 0.1}, "-14% > ±10%"},
		{photo.CheckResult{ID: photo.CheckSharpness, Status: photo.StatusPass, Value: 81.2, Limit: 30}, "81 ≥ 30"},
		{photo.CheckResult{ID: photo.CheckBackground, Status: photo.StatusFail, Value: 9.3, Limit: 8, Measure: "texture"}, "9.3 > 8.0"},
		{photo.CheckResult{ID: photo.CheckClothing, Status: photo.StatusFail, Value: 12, Limit: 20}, "12 < 20"},
		{photo.CheckResult{ID: photo.CheckBackground, Status: photo.StatusSkip}, "—"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.r)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			fmt.Sprintf(`import("/checks.js").then((m) => m.valueText(%s))`, b), chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("valueText(%s): %v", b, err)
		}
		if got != tt.want {
			t.Errorf("valueText(%s) = %q; want %q", b, got, tt.want)
		}
	}
}
