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
	"kioskd/web"
)

// typeInto focuses the field id and types s into it, as a person or a
// scanner does, "\r" being Enter.
func typeInto(t *testing.T, tab context.Context, id, s string) {
	t.Helper()
	do(t, tab, chromedp.Focus(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), s))
}

// reachable is a JavaScript expression: element id is shown and on top at
// its centre, so a click reaches it.
func reachable(id string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%q); if (!e || e.closest("[hidden]")) return false;
		const r = e.getBoundingClientRect(); if (r.width <= 0 || r.height <= 0) return false;
		const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return !!top && (top === e || e.contains(top)); })()`, id)
}

// sessionSettled is a JavaScript expression: no session command of this
// console awaits its result. The station's session event comes before the
// result, and session.js keeps the session's buttons disabled, and drops
// a new step, until the result is in: a screen that is shown is not yet
// one that takes a click or an Enter.
const sessionSettled = `!document.getElementById("sign-out").disabled`

// TestBrowserSessionFlow walks one student through the booth on the demo
// camera, from the keyboard: sign in, scan the code, consent, fee, frame,
// capture, accept, saved; the record is then in the queue.
func TestBrowserSessionFlow(t *testing.T) {
	b := startSessionBooth(t, func(s *web.Server) { s.QueuePeriod = 200 * time.Millisecond })
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+b.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.connected && window.kiosk.sessions && window.kiosk.screen === "signin"`, 10*time.Second)
	if !eval[bool](t, tab, visible("op-id")) || eval[string](t, tab, `document.getElementById("op-pin").type`) != "password" {
		t.Fatal("the sign-in form is not shown, or the PIN is not masked")
	}
	if !eval[bool](t, tab, `document.activeElement.id === "op-id"`) {
		t.Error("the operator ID field has no focus on the sign-in screen")
	}
	if eval[bool](t, tab, reachable("capture")) {
		t.Error("the capture button can be clicked before sign-in")
	}
	screenshot(t, tab, "signin")
	// The queue panel: shown (the station has a queue), nothing yet.
	if !eval[bool](t, tab, visible("queue")) {
		t.Error("no queue panel on a station with a queue")
	}
	if got := textOf(t, tab, "queue-summary"); got != "待上传 0 · 今日 0 人" {
		t.Errorf("queue summary before any student = %q", got)
	}

	// A wrong PIN: the plain message, the PIN cleared.
	typeInto(t, tab, "op-id", "op01")
	typeInto(t, tab, "op-pin", "999999\r")
	waitFor(t, tab, visible("sess-error"), 5*time.Second)
	if got := textOf(t, tab, "sess-error"); got != "工号或 PIN 不正确" {
		t.Errorf("wrong PIN says %q", got)
	}
	if v := eval[string](t, tab, `document.getElementById("op-pin").value`); v != "" {
		t.Error("the PIN field keeps a wrong PIN")
	}
	typeInto(t, tab, "op-pin", testPIN+"\r")
	waitFor(t, tab, `window.kiosk.screen === "start" && document.activeElement.id === "id-code" && `+sessionSettled, 5*time.Second)
	if got := textOf(t, tab, "sess-operator"); got != "操作员：王老师" {
		t.Errorf("operator shown as %q", got)
	}
	screenshot(t, tab, "start")

	// A student collected online: the card says so, no consent step.
	typeInto(t, tab, "id-number", onlineID)
	typeInto(t, tab, "id-name", "李四\r")
	waitFor(t, tab, `window.kiosk.screen === "student" && `+visible("st-back")+` && `+sessionSettled, 5*time.Second)
	if got := textOf(t, tab, "st-badge"); got != "已在线采集" {
		t.Errorf("badge of a student collected online = %q", got)
	}
	if eval[bool](t, tab, visible("step-consent")) {
		t.Error("consent offered to a student who may not be photographed")
	}
	screenshot(t, tab, "not-eligible")
	if !eval[bool](t, tab, `document.activeElement.id === "st-back"`) {
		t.Fatal("返回 has no focus on the card of a student who may not be photographed")
	}
	do(t, tab, chromedp.KeyEvent("\r")) // Back has the focus
	waitFor(t, tab, `window.kiosk.screen === "start" && document.activeElement.id === "id-code" && `+sessionSettled, 5*time.Second)

	// The scanner types the code and Enter.
	typeInto(t, tab, "id-code", "QR8K2M7Q1\r")
	waitFor(t, tab, `window.kiosk.screen === "student" && `+visible("step-consent"), 5*time.Second)
	card := map[string]string{"st-name": "张三", "st-badge": "可以采集", "st-masked": "3301**********0019",
		"st-school": "浙江示例大学", "st-major": "计算机科学与技术", "st-year": "2026", "st-number": "2022010001"}
	for id, want := range card {
		if got := textOf(t, tab, id); got != want {
			t.Errorf("student card %s = %q; want %q", id, got, want)
		}
	}
	if got := textOf(t, tab, "consent-version"); got != "privacy-2026-1" {
		t.Errorf("consent version shown %q", got)
	}
	if html := eval[string](t, tab, `document.body.innerHTML`); strings.Contains(html, eligibleID) {
		t.Error("the page holds the full ID number")
	}
	screenshot(t, tab, "consent")
	waitFor(t, tab, `document.activeElement.id === "consent-ok"`, 2*time.Second)
	do(t, tab, chromedp.KeyEvent("\r"))
	waitFor(t, tab, visible("step-fee")+` && document.activeElement.id === "receipt" && `+sessionSettled, 5*time.Second)
	if got := textOf(t, tab, "fee-amount"); got != "30 元" {
		t.Errorf("fee shown %q; want 30 元", got)
	}
	screenshot(t, tab, "fee")
	typeInto(t, tab, "receipt", "R-0042\r")

	// Paid: the framing view, with Cancel in the bar.
	waitFor(t, tab, `window.kiosk.session && window.kiosk.session.state === "framing" && window.kiosk.screen === null && `+
		reachable("capture")+` && !document.getElementById("capture").disabled && window.kiosk.framesPainted > 0`, 5*time.Second)
	if !eval[bool](t, tab, visible("sess-cancel")) {
		t.Error("no Cancel while framing")
	}
	screenshot(t, tab, "framing")
	do(t, tab, chromedp.Click(chromedp.ID("capture")))
	// (The station does not publish the session's move to reviewing; the
	// console follows the capture's review.)
	waitFor(t, tab, `window.kiosk.review && window.kiosk.review.loaded && `+reachable("accept"), captureTimeout())
	screenshot(t, tab, "review")
	// One retake (counted in today's figures), then the photo is taken again.
	do(t, tab, chromedp.Click(chromedp.ID("retake")))
	waitFor(t, tab, `!window.kiosk.review && `+reachable("capture")+` && !document.getElementById("capture").disabled`, 10*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("capture")))
	waitFor(t, tab, `window.kiosk.review && window.kiosk.review.loaded && `+reachable("accept"), captureTimeout())
	do(t, tab, chromedp.Click(chromedp.ID("accept")))
	waitFor(t, tab, `window.kiosk.screen === "saved"`, 10*time.Second)
	sv := b.st.Session()
	if sv.State != kiosk.SessionSaved || sv.RecordID == "" {
		t.Fatalf("the station's session is %+v; want saved", sv)
	}
	short := strings.ToUpper(strings.ReplaceAll(sv.RecordID, "-", ""))
	short = short[len(short)-8:]
	if got := textOf(t, tab, "saved-short"); got != short {
		t.Errorf("saved screen shows record %q; want %q", got, short)
	}
	if got := eval[string](t, tab, `document.querySelector("#scr-saved .sess-title").textContent`); got != "已保存" {
		t.Errorf("saved title %q", got)
	}
	screenshot(t, tab, "saved")
	// The queue panel counts the saved record within a queue period.
	waitFor(t, tab, `document.getElementById("queue-summary").textContent === "待上传 1 · 今日 1 人"`, 3*time.Second)
	do(t, tab, chromedp.Click(chromedp.ID("queue-heading")))
	waitFor(t, tab, visible("q-counts"), 2*time.Second)
	counts := textOf(t, tab, "q-counts")
	if !regexp.MustCompile(`^待上传 1（最早 \d\d:\d\d） · 已上传 0 · 审核通过 0 · 未通过 0 · 需处理 0$`).MatchString(counts) {
		t.Errorf("queue counts = %q", counts)
	}
	if got := textOf(t, tab, "q-sync"); got != "未配置中心同步：记录保存在本机" {
		t.Errorf("sync line = %q; want the no-central line", got)
	}
	if got := textOf(t, tab, "q-recent"); !regexp.MustCompile(`^\d\d:\d\d  \d{4}\*+\d{3}[\dX]  待上传$`).MatchString(got) {
		t.Errorf("recent records = %q; want one line: time, masked ID number, 待上传", got)
	}
	if got := textOf(t, tab, "q-today"); !regexp.MustCompile(`^今日 1 人 · 每小时 [\d.]+ · 平均用时 \d+ 分 \d+ 秒$`).MatchString(got) {
		t.Errorf("today = %q", got)
	}
	if got := textOf(t, tab, "q-retakes"); !regexp.MustCompile(`^重拍 1（\p{Han}+ 1）$`).MatchString(got) {
		t.Errorf("retakes = %q; want one, with its check's name", got)
	}
	screenshot(t, tab, "saved-queue")
	rec, err := b.q.Get(sv.RecordID)
	if err != nil || rec.Fee.Receipt != "R-0042" || rec.Fee.Yuan != 30 || rec.Consent.Version != "privacy-2026-1" {
		t.Fatalf("queue record %+v, %v", rec, err)
	}
	id, err := b.q.Identity(rec)
	if err != nil || id.IDNumber != eligibleID || id.Name != "张三" {
		t.Errorf("the record's identity is wrong (%v)", err)
	}

	// English, then Next student: the start screen again.
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	waitFor(t, tab, `document.querySelector("#scr-saved .sess-title").textContent === "Saved"`, 2*time.Second)
	if got := textOf(t, tab, "queue-summary"); got != "To upload 1 · today 1" {
		t.Errorf("English queue summary = %q", got)
	}
	screenshot(t, tab, "saved-en")
	do(t, tab, chromedp.Click(chromedp.ID("lang-toggle")))
	do(t, tab, chromedp.Click(chromedp.ID("next-student")))
	waitFor(t, tab, `window.kiosk.screen === "start" && document.activeElement.id === "id-code" && `+sessionSettled, 5*time.Second)

	// A rejected student: free retake, no charge.
	typeInto(t, tab, "id-code", "QR8K2M7Q3\r")
	waitFor(t, tab, visible("step-consent")+` && `+sessionSettled, 5*time.Second)
	if got := textOf(t, tab, "st-badge"); got != "未通过（免费重拍）" {
		t.Errorf("badge of a rejected student = %q", got)
	}
	if got := textOf(t, tab, "st-reason"); !strings.Contains(got, "背景不是浅蓝色") {
		t.Errorf("reason shown %q", got)
	}
	do(t, tab, chromedp.Click(chromedp.ID("consent-ok")))
	waitFor(t, tab, visible("step-fee")+` && `+sessionSettled, 5*time.Second)
	if got := textOf(t, tab, "fee-amount"); got != "免费重拍 · 不收费" || eval[bool](t, tab, visible("fee-methods")) {
		t.Errorf("retake fee shows %q (methods shown %v)", got, eval[bool](t, tab, visible("fee-methods")))
	}
	// Nothing to type: the confirm button has the focus, once the
	// consent's result has enabled it.
	if !eval[bool](t, tab, `document.activeElement.id === "fee-ok"`) {
		t.Errorf("the free retake's confirm has no focus (the focus is on %q)", eval[string](t, tab, `document.activeElement.id || document.activeElement.tagName`))
	}
	screenshot(t, tab, "retake-fee")
	// Cancel from the bar: back to the start screen.
	do(t, tab, chromedp.Click(chromedp.ID("sess-cancel")))
	waitFor(t, tab, `window.kiosk.screen === "start" && `+sessionSettled, 5*time.Second)

	// Sign out: the sign-in screen.
	do(t, tab, chromedp.Click(chromedp.ID("sign-out")))
	waitFor(t, tab, `window.kiosk.screen === "signin" && document.activeElement.id === "op-id"`, 5*time.Second)
}

// TestBrowserSessionIdle: the station's idle timeout brings the console
// back to the start screen.
func TestBrowserSessionIdle(t *testing.T) {
	b := startSessionBooth(t, nil, 800*time.Millisecond)
	tab, _ := newTab(t)
	do(t, tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+b.addr+"/"))
	waitFor(t, tab, `window.kiosk && window.kiosk.screen === "signin"`, 10*time.Second)
	typeInto(t, tab, "op-id", "op01")
	typeInto(t, tab, "op-pin", testPIN+"\r")
	waitFor(t, tab, `window.kiosk.screen === "start" && `+sessionSettled, 5*time.Second)
	typeInto(t, tab, "id-code", "QR8K2M7Q1\r")
	waitFor(t, tab, `window.kiosk.screen === "student"`, 5*time.Second)
	waitFor(t, tab, `window.kiosk.screen === "start" && window.kiosk.session.state === "idle" && !window.kiosk.session.student`, 10*time.Second)
}
