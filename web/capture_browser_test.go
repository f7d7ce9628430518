package web_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kioskd/kiosk"
)

// The capture tests drive the review, the refusal and the calibration in
// the browser, against the real station on frames of the demo camera.

// visible is a JavaScript expression: element id is shown and has a size.
func visible(id string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%q); if (!e || e.closest("[hidden]")) return false;
		const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })()`, id)
}

func TestBrowserCaptureReview(t *testing.T) {
	h := startDemoBooth(t, settledAt, nil)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.framesPainted >= 1`, 10*time.Second)
	if !eval[bool](t, tab, visible("capture")) || eval[bool](t, tab, `document.getElementById("capture").disabled`) {
		t.Fatal("the capture button is not shown, or disabled, on a live camera")
	}
	if got := eval[string](t, tab, `document.getElementById("capture").textContent.replace(/\s+/g, " ").trim()`); got != "拍照 空格键" {
		t.Errorf("capture button says %q; want 拍照 空格键", got)
	}

	do(t, tab, chromedp.Click(chromedp.ID("capture")))
	waitFor(t, tab, visible("working")+` || (window.kiosk.review && window.kiosk.review.shown)`, 5*time.Second)
	waitFor(t, tab, `window.kiosk.review && window.kiosk.review.loaded`, captureTimeout())
	if w := eval[int](t, tab, `document.getElementById("review-photo").naturalWidth`); w != 480 {
		t.Errorf("review photo naturalWidth = %d; want 480", w)
	}
	if hgt := eval[int](t, tab, `document.getElementById("review-photo").naturalHeight`); hgt != 640 {
		t.Errorf("review photo naturalHeight = %d; want 640", hgt)
	}
	waitFor(t, tab, `!window.kiosk.working && document.getElementById("working").hidden`, 2*time.Second)
	// Beside the live view, at a readable size; the framing panel makes
	// room for it.
	layout := eval[string](t, tab, `(() => {
		const p = document.getElementById("review-photo").getBoundingClientRect();
		const v = document.getElementById("viewport").getBoundingClientRect();
		const s = document.getElementById("preview").getBoundingClientRect();
		const panel = document.querySelector(".panel").getBoundingClientRect();
		return [p.left >= v.right - 0.5, p.right <= window.innerWidth, p.bottom <= window.innerHeight,
			p.height >= 480, Math.abs(p.width / p.height - 0.75) < 0.01, s.width > 200, panel.width === 0].map(String).join(",");
	})()`)
	if layout != "true,true,true,true,true,true,true" {
		t.Errorf("review layout [beside, inside x, inside y, >= 480 px tall, 3:4, live view shown, panel hidden] = %s", layout)
	}
	if !eval[bool](t, tab, visible("retake")) || !eval[bool](t, tab, visible("accept")) {
		t.Error("retake or accept button not shown")
	}
	if got := textOf(t, tab, "retake") + "/" + textOf(t, tab, "accept"); got != "重拍/确认" {
		t.Errorf("review buttons say %q; want 重拍/确认", got)
	}
	if !eval[bool](t, tab, `document.getElementById("capture").disabled`) {
		t.Error("capture button enabled under review")
	}
	// The report: one row per spec item, each against its band, marked.
	rows := eval[[]string](t, tab, `[...document.querySelectorAll("#report-rows tr")].map((tr) =>
		[tr.dataset.id, tr.dataset.status, ...[...tr.cells].map((c) => c.textContent)].join("|"))`)
	want := map[string]string{"size": "文件大小", "quality": "JPEG 质量", "density": "分辨率", "eye_line": "眼睛位置",
		"crown": "头顶位置", "face_width": "脸宽", "centre": "脸部居中", "background": "背景色差"}
	for _, r := range rows {
		parts := strings.SplitN(r, "|", 6)
		if len(parts) != 6 {
			t.Fatalf("report row %q; want id, status and four cells", r)
		}
		id, status, mark, name, value, band := parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
		if w, ok := want[id]; ok {
			delete(want, id)
			if name != w {
				t.Errorf("report row %s named %q; want %q", id, name, w)
			}
		}
		if status != "pass" || mark != "✓" || value == "" || value == "—" {
			t.Errorf("report row %q: want a passing, marked, measured row for a proven photo", r)
		}
		if id == "eye_line" && !regexp.MustCompile(`^\d+–\d+ px$`).MatchString(band) {
			t.Errorf("eye line band = %q; want min–max px", band)
		}
		if id == "size" && !regexp.MustCompile(`^\d+ KB$`).MatchString(value) {
			t.Errorf("size = %q; want N KB", value)
		}
	}
	if len(want) > 0 {
		t.Errorf("report rows %v lack %v", rows, want)
	}
	if got := textOf(t, tab, "review-verdict"); got != "符合学信网照片标准" {
		t.Errorf("review verdict = %q", got)
	}
	screenshot(t, tab, "review")

	// A reload (or a reconnect) shows the same review again, from the
	// status snapshot.
	id := eval[int](t, tab, `window.kiosk.review.id`)
	do(t, tab, chromedp.Reload())
	waitFor(t, tab, fmt.Sprintf(`window.kiosk && window.kiosk.review && window.kiosk.review.id === %d && window.kiosk.review.loaded`, id), 10*time.Second)

	// English, then back.
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.getElementById("review-title").textContent === "Check the photo"`, 2*time.Second)
	if got := textOf(t, tab, "retake") + "/" + textOf(t, tab, "accept"); got != "Retake/Accept" {
		t.Errorf("review buttons in English say %q; want Retake/Accept", got)
	}
	if got := eval[string](t, tab, `document.querySelector('#report-rows tr[data-id="eye_line"] .report-name').textContent`); got != "Eye line" {
		t.Errorf("eye line row in English = %q; want Eye line", got)
	}
	if got := textOf(t, tab, "review-verdict"); got != "Meets the CHSI photo standard" {
		t.Errorf("review verdict in English = %q", got)
	}
	screenshot(t, tab, "review-en")
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.getElementById("review-title").textContent === "请确认照片"`, 2*time.Second)

	// Retake: the live view and the framing panel come back.
	do(t, tab, chromedp.Click(chromedp.ID("retake")))
	waitFor(t, tab, `!window.kiosk.review && document.getElementById("review").hidden && `+visible("verdict")+` && !document.getElementById("capture").disabled`, 5*time.Second)
	n := eval[int](t, tab, `window.kiosk.framesPainted`)
	waitFor(t, tab, fmt.Sprintf(`window.kiosk.framesPainted > %d`, n+3), 3*time.Second)
	if r := h.st.Status().Review; r != nil {
		t.Errorf("station still reviews capture %d after Retake", r.ID)
	}
	if resp, _ := getPhoto(t, h.addr, fmt.Sprint(id)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("photo after retake: %s; want 404", resp.Status)
	}

	// Space takes the next photo; Accept closes the review.
	do(t, tab, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent(" "))
	waitFor(t, tab, fmt.Sprintf(`window.kiosk.review && window.kiosk.review.loaded && window.kiosk.review.id !== %d`, id), captureTimeout())
	do(t, tab, chromedp.Click(chromedp.ID("accept")))
	waitFor(t, tab, `!window.kiosk.review && window.kiosk.lastResult && window.kiosk.lastResult.for === "accept" && window.kiosk.lastResult.ok`, 5*time.Second)
	if !eval[bool](t, tab, `document.getElementById("review").hidden`) {
		t.Error("review panel still shown after Accept")
	}
}

func TestBrowserRefusalAndCalibration(t *testing.T) {
	h := startDemoBooth(t, emptyWallAt, nil)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+h.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.framesPainted >= 1 && window.kiosk.calibration`, 10*time.Second)

	// An empty booth: the refusal's physical fix, big, and a way back.
	do(t, tab, chromedp.Click(chromedp.ID("capture")))
	waitFor(t, tab, visible("refusal"), captureTimeout())
	if got := textOf(t, tab, "refusal-hint"); got != "请正对镜头，让整张脸出现在画面中" {
		t.Errorf("refusal hint = %q; want the no-face fix", got)
	}
	if px := eval[float64](t, tab, `parseFloat(getComputedStyle(document.getElementById("refusal-hint")).fontSize)`); px < 28 {
		t.Errorf("refusal hint is %.0f px; want big type", px)
	}
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.getElementById("refusal-hint").textContent === "Face the camera so that your whole face is in view"`, 2*time.Second)
	screenshot(t, tab, "refused")
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	do(t, tab, chromedp.Click(chromedp.ID("refusal-back")))
	waitFor(t, tab, `document.getElementById("refusal").hidden && !window.kiosk.refusal`, 2*time.Second)

	// Calibration: not calibrated, then a confirmed calibration.
	do(t, tab, chromedp.Evaluate[chromedp.Void](`document.getElementById("camera").open = true`))
	waitFor(t, tab, `document.getElementById("cal-state").textContent === "未校准"`, 2*time.Second)
	if got := textOf(t, tab, "cal-chip"); got != "未校准" {
		t.Errorf("camera summary chip = %q; want 未校准", got)
	}
	do(t, tab, chromedp.Click(chromedp.ID("calibrate")))
	waitFor(t, tab, visible("cal-confirm"), 2*time.Second)
	if got := textOf(t, tab, "cal-confirm-title"); got != "请确认拍摄区域无人" {
		t.Errorf("confirm says %q", got)
	}
	if h.st.Status().Calibration.Calibrated {
		t.Fatal("calibrated before the operator confirmed")
	}
	do(t, tab, chromedp.Click(chromedp.ID("cal-go")))
	// The calibration event, then the result (which sets the message).
	waitFor(t, tab, `window.kiosk.calibration && window.kiosk.calibration.calibrated && !window.kiosk.calibrating &&
		document.getElementById("cal-state").textContent.startsWith("已校准") && document.getElementById("cal-chip").hidden`, captureTimeout())
	if !h.st.Status().Calibration.Calibrated {
		t.Error("the station is not calibrated after the console's calibration")
	}
	if got := textOf(t, tab, "cal-msg"); got != "校准完成" {
		t.Errorf("calibration message = %q; want 校准完成", got)
	}
	screenshot(t, tab, "calibrated")
}

func TestBrowserCalibrationDrift(t *testing.T) {
	fs := startFeedbackBooth(t, 0)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+fs.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.calibration`, 10*time.Second)
	do(t, tab, chromedp.Evaluate[chromedp.Void](`document.getElementById("camera").open = true`))
	at := time.Date(2026, 6, 1, 9, 30, 0, 0, time.Local)
	publish := func(drift float64) {
		fs.hub.Publish(kiosk.Event{Type: kiosk.EventCalibration, Time: time.Now(),
			Data: kiosk.CalibrationStatus{Calibrated: true, Time: at, Drift: drift, DriftWarn: 5}})
	}
	tests := []struct {
		drift float64
		warn  bool
		chip  string
		text  string
	}{
		{1.24, false, "", "ΔE 1.2（5 以上建议重新校准）"},
		{7.5, true, "建议重新校准", "ΔE 7.5（5 以上建议重新校准）"},
		{4.9, false, "", "ΔE 4.9（5 以上建议重新校准）"},
	}
	for _, tt := range tests {
		publish(tt.drift)
		waitFor(t, tab, fmt.Sprintf(`document.getElementById("cal-drift").textContent === %q`, tt.text), 3*time.Second)
		if got := eval[bool](t, tab, visible("cal-warn")); got != tt.warn {
			t.Errorf("drift %.1f: warning shown %v; want %v", tt.drift, got, tt.warn)
		}
		if got := textOf(t, tab, "cal-chip"); got != tt.chip || eval[bool](t, tab, `document.getElementById("cal-chip").hidden`) != (tt.chip == "") {
			t.Errorf("drift %.1f: chip %q; want %q", tt.drift, got, tt.chip)
		}
		if tt.warn {
			if got := textOf(t, tab, "cal-warn"); got != "光线或背景已变化，建议重新校准" {
				t.Errorf("drift warning says %q", got)
			}
		}
	}
	if got := textOf(t, tab, "cal-state"); !strings.HasPrefix(got, "已校准 · 2026") || !strings.Contains(got, "09:30") {
		t.Errorf("calibration state = %q; want 已校准 with the date and time", got)
	}
	publish(8)
	waitFor(t, tab, visible("cal-warn"), 3*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.getElementById("cal-warn").textContent === "The light or the background has changed: calibrate again"`, 2*time.Second)
	if got := textOf(t, tab, "cal-chip"); got != "Calibrate again" {
		t.Errorf("chip in English = %q", got)
	}
	screenshot(t, tab, "drift")
}
