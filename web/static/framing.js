// The framing panel: the verdict card (what to tell the student, or that
// the shot is ready) and the checklist of the 13 checks, failing first.
//
// Every element is created once; an update writes only the text, attributes
// and CSS `order` values that changed, so the panel can follow the station's
// 15 feedbacks a second without flicker. Rows keep their place in the DOM and
// are reordered with `order` (the list is a flex column).

import * as i18n from "./i18n.js";
import { CHECK_IDS, NAME_KEYS, CheckBoard, valueText } from "./checks.js";

// STALE_MS: a feedback older than this no longer describes the picture.
export const STALE_MS = 1500;

const ICONS = { pass: "✓", fail: "✕", warn: "!", skip: "–", "": "·" };

function setText(el, s) {
  if (el.textContent !== s) el.textContent = s;
}

function setData(el, key, v) {
  if (el.dataset[key] !== v) el.dataset[key] = v;
}

function hintText(r) {
  const h = r?.hint;
  if (!h) return "";
  return (i18n.lang() === "en" ? h.en : h.zh) || h.zh || h.en || "";
}

export class FramingPanel {
  // verdict: the card element; list: the <ol> of checks.
  constructor(verdict, list, { settleMs } = {}) {
    this.board = new CheckBoard(settleMs);
    this.fb = null; // newest feedback
    this.fbAt = 0; // performance.now() when it arrived
    this.cd = null; // newest countdown {state, remaining_ms, total_ms}
    this.live = false; // connected to the station
    this.timer = 0;
    this.onSettle = null; // called when a pending status settles by timer

    this.verdict = verdict;
    this.title = verdict.querySelector(".verdict-title");
    this.sub = verdict.querySelector(".verdict-sub");
    this.bar = verdict.querySelector(".verdict-bar-fill");
    this.list = list;
    this.rows = new Map();
    for (const id of CHECK_IDS) {
      const li = document.createElement("li");
      li.className = "check";
      li.dataset.id = id;
      li.dataset.status = "";
      const icon = document.createElement("span");
      icon.className = "check-icon";
      icon.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "check-name";
      const value = document.createElement("span");
      value.className = "check-value mono";
      const hint = document.createElement("span");
      hint.className = "check-hint";
      li.append(icon, name, value, hint);
      list.append(li);
      this.rows.set(id, { li, icon, name, value, hint, order: -1 });
    }
    this.view = { state: "waiting", title: "", rows: [] };
    this.shownKey = ""; // the list as last shown, "id:status,..."
    this.changes = 0; // how often the list as shown has changed
  }

  // feedback takes one Feedback (the data of a "feedback" message).
  feedback(fb, now = performance.now()) {
    this.fb = fb;
    this.fbAt = now;
    this.board.update(fb.error ? [] : fb.checks, now);
    if (!fb.steady && this.cd?.state === "running") this.cd = null;
    this.schedule();
  }

  // countdown takes one Countdown (the data of a "countdown" message).
  countdown(cd) {
    this.cd = cd;
  }

  // setLive says whether the socket is connected; a new connection starts
  // from a clean slate.
  setLive(live) {
    if (live === this.live) return;
    this.live = live;
    this.fb = null;
    this.cd = null;
    this.board.clear();
  }

  // fresh returns the newest feedback if it still describes the picture.
  fresh(now = performance.now()) {
    if (!this.live || !this.fb || now - this.fbAt > STALE_MS) return null;
    return this.fb;
  }

  // schedule arranges a render for when a pending status is due to settle.
  schedule() {
    const due = this.board.nextSettle();
    if (!due || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      if (this.board.settle(performance.now())) this.onSettle?.();
      this.schedule();
    }, Math.max(0, due - performance.now()) + 5);
  }

  // status returns the shown status of a check ("" when unknown or stale).
  status(id) {
    return this.fresh() ? this.board.status(id) : "";
  }

  // compute decides what the card says.
  compute(now) {
    const fb = this.fresh(now);
    const rows = fb ? this.board.rows() : [];
    const v = { state: "waiting", title: i18n.t("verdictWaiting"), sub: i18n.t("verdictWaitingSub"), bar: 0, rows };
    if (!fb) return v;
    if (fb.error) return { ...v, state: "error", title: i18n.t("verdictError"), sub: i18n.t("verdictErrorSub") };
    const cd = this.cd;
    if (fb.steady) {
      let sub = i18n.t("verdictReadySub");
      if (cd?.state === "running") {
        sub = i18n.t("verdictCountdown", { s: Math.max(1, Math.ceil(cd.remaining_ms / 1000)) });
      } else if (cd?.state === "done") {
        sub = i18n.t("verdictDone");
      }
      return { ...v, state: "ready", title: i18n.t("verdictReady"), sub, bar: 1 };
    }
    const bad = rows.filter((r) => r.status === "fail" || r.status === "warn");
    if (bad.length) {
      const lead = bad[0];
      const name = i18n.t(NAME_KEYS[lead.id]);
      const sub =
        bad.length > 1 ? i18n.t("verdictFixMore", { name, n: bad.length - 1 }) : i18n.t("verdictFixSub", { name });
      return { ...v, state: lead.status, title: hintText(lead.result) || name, sub, lead: lead.id };
    }
    const skipped = rows.find((r) => r.status === "skip");
    if (skipped && !fb.ready) {
      const name = i18n.t(NAME_KEYS[skipped.id]);
      return { ...v, state: "warn", title: i18n.t("verdictSkipped", { name }), sub: "", lead: skipped.id };
    }
    const hold = fb.hold_ms > 0 ? Math.min(1, fb.held_ms / fb.hold_ms) : 0;
    return { ...v, state: "hold", title: i18n.t("verdictHold"), sub: i18n.t("verdictHoldSub"), bar: hold };
  }

  // render writes the panel; only what changed is touched.
  render(now = performance.now()) {
    const v = this.compute(now);
    setData(this.verdict, "state", v.state);
    setText(this.title, v.title);
    setText(this.sub, v.sub);
    const bar = `scaleX(${v.bar.toFixed(3)})`;
    if (this.bar.style.transform !== bar) this.bar.style.transform = bar;
    setData(this.list, "stale", String(!this.fresh(now)));

    const shown = new Map(v.rows.map((r, i) => [r.id, { ...r, order: i }]));
    let next = v.rows.length;
    for (const id of CHECK_IDS) {
      const row = this.rows.get(id);
      const r = shown.get(id) ?? { status: "", result: null, order: next++ };
      setData(row.li, "status", r.status);
      setData(row.li, "lead", String(v.lead === id));
      if (row.order !== r.order) {
        row.order = r.order;
        row.li.style.order = String(r.order);
      }
      setText(row.icon, ICONS[r.status] ?? "·");
      setText(row.name, i18n.t(NAME_KEYS[id]));
      setText(row.value, r.result ? valueText(r.result) : "—");
      const hint = r.status === "fail" || r.status === "warn" ? hintText(r.result) : "";
      setText(row.hint, hint);
    }
    this.view = v;
    const key = v.rows.map((r) => `${r.id}:${r.status}`).join(",");
    if (key !== this.shownKey) {
      this.shownKey = key;
      this.changes++;
    }
  }

  // state is what window.kiosk exposes: the verdict and the list in the
  // order it is shown.
  state() {
    return {
      verdict: this.view.state,
      title: this.view.title,
      checklist: this.view.rows.map((r) => ({ id: r.id, status: r.status })),
      changes: this.changes,
    };
  }
}
