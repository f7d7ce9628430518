package web_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/web"
)

// The operator's actions outside a student's session: calibrating the
// empty booth from the start screen, and retrying a parked record from the
// queue panel.

// signInConsole signs op01 in from the console's sign-in screen and waits
// for the start screen, ready for a click.
func signInConsole(t *testing.T, tab context.Context) {
	t.Helper()
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.screen === "signin"`, 10*time.Second)
	typeInto(t, tab, "op-id", "op01")
	typeInto(t, tab, "op-pin", testPIN+"\r")
	waitFor(t, tab, `window.kiosk.screen === "start" && document.activeElement.id === "id-code" && `+sessionSettled, 5*time.Second)
}

func TestBrowserCalibrateFromStart(t *testing.T) {
	b := startSessionBoothFrame(t, emptyWallAt, nil, nil)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+b.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.screen === "signin"`, 10*time.Second)
	if eval[bool](t, tab, visible("start-calibrate")) {
		t.Error("the empty-booth calibration is offered before sign-in")
	}
	signInConsole(t, tab)

	// The start screen covers the camera panel; its own button leads there.
	if eval[bool](t, tab, reachable("calibrate")) {
		t.Error("the camera panel's calibrate button is reachable on the start screen (the screen should cover it)")
	}
	if !eval[bool](t, tab, reachable("start-calibrate")) {
		t.Fatal("no reachable empty-booth calibration button on the start screen")
	}
	if got := textOf(t, tab, "start-calibrate"); got != "校准（拍摄区域无人时）" {
		t.Errorf("start screen calibrate button says %q", got)
	}
	if got := textOf(t, tab, "start-cal-state"); got != "未校准" {
		t.Errorf("start screen calibration state = %q; want 未校准", got)
	}
	screenshot(t, tab, "start-with-calibrate")
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.getElementById("start-calibrate").textContent === "Calibrate (empty booth)" &&
		document.getElementById("start-cal-state").textContent === "Not calibrated"`, 2*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.documentElement.lang === "zh-CN"`, 2*time.Second)

	// Cancel: back to the start screen, nothing calibrated.
	do(t, tab, chromedp.Click(chromedp.ID("start-calibrate")))
	waitFor(t, tab, `window.kiosk.emptyBooth && window.kiosk.screen === null && `+reachable("cal-cancel"), 5*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("cal-cancel")))
	waitFor(t, tab, `!window.kiosk.emptyBooth && window.kiosk.screen === "start" && document.activeElement.id === "id-code"`, 5*time.Second)

	// Again, and confirm: the operator sees the live booth while asked.
	do(t, tab, chromedp.Click(chromedp.ID("start-calibrate")))
	waitFor(t, tab, `window.kiosk.emptyBooth && window.kiosk.screen === null && `+reachable("cal-go")+` && `+visible("preview"), 5*time.Second)
	if got := textOf(t, tab, "cal-confirm-title"); got != "请确认拍摄区域无人" {
		t.Errorf("confirm says %q", got)
	}
	if !eval[bool](t, tab, `document.activeElement.id === "cal-go"`) {
		t.Error("the confirm's 开始校准 has no focus")
	}
	if got := textOf(t, tab, "sess-student"); got != "空场校准" {
		t.Errorf("top bar says %q while calibrating the empty booth; want 空场校准", got)
	}
	if !eval[bool](t, tab, `document.getElementById("capture").disabled`) {
		t.Error("the capture button works with no student")
	}
	n := eval[int](t, tab, `window.kiosk.framesPainted`)
	waitFor(t, tab, fmt.Sprintf(`window.kiosk.framesPainted > %d`, n+3), 3*time.Second)
	if b.st.Status().Calibration.Calibrated {
		t.Fatal("calibrated before the operator confirmed")
	}
	screenshot(t, tab, "start-calibrate-confirm")
	do(t, tab, chromedp.Click(chromedp.ID("cal-go")))
	// The calibration event, then the result (which sets the message and
	// the focus).
	waitFor(t, tab, `window.kiosk.calibration && window.kiosk.calibration.calibrated && !window.kiosk.calibrating &&
		document.getElementById("cal-state").textContent.startsWith("已校准") && `+reachable("cal-back"), captureTimeout())
	if !b.st.Status().Calibration.Calibrated {
		t.Error("the station is not calibrated after the empty-booth calibration")
	}
	if got := textOf(t, tab, "cal-msg"); got != "校准完成" {
		t.Errorf("calibration message = %q; want 校准完成", got)
	}
	if got := textOf(t, tab, "cal-drift"); !regexp.MustCompile(`^ΔE \d+\.\d`).MatchString(got) {
		t.Errorf("drift shown %q; want ΔE with a value", got)
	}
	if !eval[bool](t, tab, `document.activeElement.id === "cal-back"`) {
		t.Error("返回登记 has no focus after the calibration")
	}
	screenshot(t, tab, "start-calibrated")
	do(t, tab, chromedp.KeyEvent("\r"))
	waitFor(t, tab, `!window.kiosk.emptyBooth && window.kiosk.screen === "start" && document.activeElement.id === "id-code"`, 5*time.Second)
	if got := textOf(t, tab, "start-cal-state"); !strings.HasPrefix(got, "已校准 · ") {
		t.Errorf("start screen calibration state after calibrating = %q; want 已校准 with the date", got)
	}

	// A student identified elsewhere ends the empty-booth view and its
	// question.
	do(t, tab, chromedp.Click(chromedp.ID("start-calibrate")))
	waitFor(t, tab, `window.kiosk.emptyBooth && `+visible("cal-confirm"), 5*time.Second)
	if _, err := b.st.Identify("", "", "QR8K2M7Q1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tab, `!window.kiosk.emptyBooth && window.kiosk.screen === "student" && document.getElementById("cal-confirm").hidden`, 5*time.Second)
	if eval[bool](t, tab, visible("start-calibrate")) {
		t.Error("the empty-booth calibration is offered with a student in progress")
	}
}

func TestBrowserRetryParkedRecord(t *testing.T) {
	b := startSessionBooth(t, func(s *web.Server) { s.QueuePeriod = 200 * time.Millisecond })
	parked := commitRecord(t, b.q)
	parkRecord(t, b.q, parked, "manifest refused: 422 unknown spec")
	commitRecord(t, b.q)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+b.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.screen === "signin" && window.kiosk.queue`, 10*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("queue-heading")))
	line := fmt.Sprintf(`document.querySelector('#q-recent li[data-id=%q]')`, parked)
	waitFor(t, tab, line+` && `+line+`.dataset.state === "parked"`, 5*time.Second)
	if got := eval[string](t, tab, line+`.textContent`); !strings.HasSuffix(got, "需处理：manifest refused: 422 unknown spec") {
		t.Errorf("parked line = %q; want its reason", got)
	}
	if eval[int](t, tab, `document.querySelectorAll("#q-recent button.q-retry").length`) != 0 {
		t.Error("Retry offered before an operator signed in")
	}

	typeInto(t, tab, "op-id", "op01")
	typeInto(t, tab, "op-pin", testPIN+"\r")
	waitFor(t, tab, `window.kiosk.screen === "start"`, 5*time.Second)
	button := line + `.querySelector("button.q-retry")`
	waitFor(t, tab, button+` && !`+button+`.disabled`, 5*time.Second)
	if n := eval[int](t, tab, `document.querySelectorAll("#q-recent button.q-retry").length`); n != 1 {
		t.Errorf("%d Retry buttons; want one, on the parked line only", n)
	}
	if got := eval[string](t, tab, button+`.textContent`); got != "重试" {
		t.Errorf("Retry button says %q; want 重试", got)
	}
	// On top of the start screen, so a click reaches it.
	if !eval[bool](t, tab, `(() => { const e = `+button+`; const r = e.getBoundingClientRect();
		return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === e; })()`) {
		t.Fatal("the Retry button is covered")
	}
	screenshot(t, tab, "queue-parked")

	do(t, tab, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#q-recent li[data-id=%q] button.q-retry`, parked))))
	waitFor(t, tab, line+`.dataset.state === "queued" && !`+button+` && window.kiosk.lastResult.for === "retry_record" && window.kiosk.lastResult.ok`, 5*time.Second)
	if got := eval[string](t, tab, line+`.textContent`); !regexp.MustCompile(`^\d\d:\d\d  3301\*+0019  待上传$`).MatchString(got) {
		t.Errorf("retried line = %q; want time, masked ID number, 待上传", got)
	}
	if s := recordState(t, b.q, parked); s != queue.StateQueued {
		t.Errorf("the record is %s after Retry; want queued", s)
	}
	if got := textOf(t, tab, "queue-summary"); got != "待上传 2 · 今日 0 人" {
		t.Errorf("queue summary after the retry = %q", got)
	}
	screenshot(t, tab, "queue-retried")

	// In framing the camera panel's own button still calibrates; with a
	// student in the booth the station refuses, and the panel says why.
	for _, f := range []func() (kiosk.SessionView, error){
		func() (kiosk.SessionView, error) { return b.st.Identify("", "", "QR8K2M7Q1") },
		func() (kiosk.SessionView, error) { return b.st.Consent("privacy-2026-1") },
		func() (kiosk.SessionView, error) { return b.st.Pay(kiosk.PayCash, "R-9") },
		b.st.Frame,
	} {
		if _, err := f(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, tab, `window.kiosk.session.state === "framing" && window.kiosk.screen === null`, 5*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("queue-heading"))) // close the card
	do(t, tab, chromedp.Evaluate[chromedp.Void](`document.getElementById("camera").open = true; document.getElementById("calibrate").scrollIntoView()`))
	waitFor(t, tab, reachable("calibrate"), 2*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("calibrate")))
	waitFor(t, tab, reachable("cal-go"), 2*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("cal-go")))
	waitFor(t, tab, `window.kiosk.lastResult.for === "calibrate" && !window.kiosk.lastResult.ok`, captureTimeout())
	if got := textOf(t, tab, "cal-msg"); got != "画面中有人：请让拍摄区域无人后再校准" {
		t.Errorf("refused calibration in framing says %q", got)
	}
	if eval[bool](t, tab, visible("cal-back")) {
		t.Error("返回登记 shown during a student's framing")
	}
}
