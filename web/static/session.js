// The operator's session screens: sign-in, identify (scan a collection code
// or type the ID number and name), the student card with the consent and
// fee steps, and the saved screen. The station's "session" events decide
// which screen shows (see docs/ui-protocol.md, "The session"); this module
// only sends the commands and shows their errors. Framing and review are
// app.js's: while the session frames or reviews, these screens hide. So
// do they while the operator calibrates the empty booth from the start
// screen (emptyBooth): a view of this console only, which the station
// does not know of.

import * as i18n from "./i18n.js";

// CONSENT_VERSION names the consent text in i18n.js (consentText). A new
// text is a new version.
export const CONSENT_VERSION = "privacy-2026-1";

const $ = (id) => document.getElementById(id);

// Which screen each session state shows; null: the framing view.
const screens = {
  signed_out: "signin",
  idle: "start",
  identified: "student",
  consented: "student",
  paid: "student",
  framing: null,
  reviewing: null,
  saved: "saved",
};

const screenIds = { signin: "scr-signin", start: "scr-start", student: "scr-student", saved: "scr-saved" };

// shortRecord is the short form of a record ID an operator can read out:
// the last 8 characters (a UUIDv7's first ones are its time, shared by
// records made close together).
export function shortRecord(id) {
  const s = String(id ?? "").replace(/-/g, "");
  return s.length > 8 ? s.slice(-8).toUpperCase() : s.toUpperCase();
}

export class SessionScreens {
  // send(msg) sends a command and reports whether the socket took it.
  constructor(send) {
    this.send = send;
    this.enabled = false; // the station runs sessions (hello's "sessions")
    this.view = null; // the newest SessionView
    this.error = null; // {code, zh, en} of this console's last failed step
    this.pending = ""; // the command waiting for its result
    this.shown = null; // the screen shown, or null
    this.autoFrame = false; // frame right after this console's pay
    this.emptyBooth = false; // the live view is shown for a calibration from the start screen
    this.bind();
  }

  bind() {
    $("scr-signin").addEventListener("submit", (e) => {
      e.preventDefault();
      this.command({ type: "sign_in", id: $("op-id").value.trim(), pin: $("op-pin").value });
    });
    $("form-code").addEventListener("submit", (e) => {
      e.preventDefault();
      this.command({ type: "identify", code: $("id-code").value.trim() });
    });
    $("form-id").addEventListener("submit", (e) => {
      e.preventDefault();
      this.command({ type: "identify", id_number: $("id-number").value.trim(), name: $("id-name").value.trim() });
    });
    $("step-consent").addEventListener("submit", (e) => {
      e.preventDefault();
      this.command({ type: "consent", version: CONSENT_VERSION });
    });
    $("step-fee").addEventListener("submit", (e) => {
      e.preventDefault();
      const retake = !!this.view?.student?.retake;
      const method = retake ? "waived" : (new FormData($("step-fee")).get("method") ?? "cash");
      this.autoFrame = true;
      this.command({ type: "pay", method, receipt: $("receipt").value.trim() });
    });
    $("fee-methods").addEventListener("change", () => this.render());
    $("frame-go").addEventListener("click", () => this.command({ type: "frame" }));
    $("st-back").addEventListener("click", () => this.command({ type: "cancel" }));
    $("next-student").addEventListener("click", () => this.command({ type: "cancel" }));
    $("sess-cancel").addEventListener("click", () => this.command({ type: "cancel" }));
    $("sign-out").addEventListener("click", () => this.command({ type: "sign_out" }));
  }

  command(msg) {
    if (this.pending) return; // one step at a time: a double Enter sends once
    this.error = null;
    if (this.send(msg)) this.pending = msg.type;
    this.render();
  }

  // canCalibrate reports whether the start screen may make way for the
  // empty-booth calibration: an operator is signed in and no student is
  // in progress.
  canCalibrate() {
    return this.enabled && this.view?.state === "idle" && !this.view.student;
  }

  // setEmptyBooth shows the live view for a calibration from the start
  // screen (on), or the start screen again (off). Any session change that
  // leaves the start screen ends it.
  setEmptyBooth(on) {
    this.emptyBooth = on && this.canCalibrate();
    this.render();
  }

  // screen is the session screen to show, or null for the framing view
  // (also when the station runs no sessions).
  screen() {
    if (!this.enabled || !this.view) return null;
    if (this.emptyBooth) return null;
    // A student who may not be photographed stays on the card, idle,
    // until the operator goes back.
    if (this.view.state === "idle" && this.view.student) return "student";
    return screens[this.view.state] ?? null;
  }

  // reviewing tells the header strip that a photo is under review (the
  // station's session says framing until the photo is saved).
  setReviewing(on) {
    if (this.reviewing === on) return;
    this.reviewing = on;
    this.render();
  }

  // apply takes a session view (an event, or the status snapshot).
  apply(view) {
    this.view = view ?? null;
    if (!this.canCalibrate()) this.emptyBooth = false;
    this.render();
  }

  // result takes the answer to one of this console's session commands.
  result(m) {
    if (m.for === this.pending) this.pending = "";
    if (m.ok) {
      this.error = null;
      if (m.for === "pay" && this.autoFrame) {
        this.autoFrame = false;
        this.render();
        this.command({ type: "frame" });
        return;
      }
    } else {
      this.error = m.error ?? null;
      this.autoFrame = false;
      this.failed(m.for, m.error?.code);
    }
    this.render();
  }

  // failed clears and focuses the field a failed step needs retyped.
  failed(what, code) {
    if (what === "sign_in") {
      $("op-pin").value = "";
      if (this.shown === "signin") $("op-pin").focus();
    }
    if (what === "identify" && this.shown === "start") {
      // A scanner's next code replaces a bad one; a typed ID number is
      // kept to be corrected.
      if (document.activeElement === $("id-code") || $("id-code").value) {
        $("id-code").select();
      } else if (code === "name_mismatch") {
        $("id-name").select();
      } else {
        $("id-number").select();
      }
    }
  }

  // connection lost: nothing is pending any more.
  disconnected() {
    this.pending = "";
    this.render();
  }

  render() {
    const v = this.view;
    const scr = this.screen();
    const section = $("session");
    section.hidden = scr === null;
    document.body.classList.toggle("in-session", scr !== null);
    for (const [name, id] of Object.entries(screenIds)) $(id).hidden = scr !== name;

    // The header strip: the operator, and the student while framing or
    // reviewing (with Cancel).
    const bar = $("sess-bar");
    bar.hidden = !this.enabled || !v || v.state === "signed_out";
    if (!bar.hidden) {
      const st = v.student;
      const reviewing = v.state === "reviewing" || (v.state === "framing" && this.reviewing);
      const step = reviewing ? i18n.t("stepReview") : v.state === "framing" ? i18n.t("stepFraming") : "";
      $("sess-student").textContent = this.emptyBooth ? i18n.t("stepCalibrate") : st && step ? `${st.name || st.masked} · ${step}` : "";
      $("sess-operator").textContent = v.operator ? i18n.t("operatorIs", { name: v.operator }) : "";
      $("sess-cancel").hidden = v.state === "idle" || v.state === "saved" || v.state === "signed_out";
    }

    const err = $("sess-error");
    const text = this.error ? (i18n.lang() === "zh-CN" ? this.error.zh : this.error.en) : "";
    err.hidden = !text || scr === null;
    if (err.textContent !== text) err.textContent = text;

    for (const b of document.querySelectorAll("#session button, #sess-bar button")) b.disabled = !!this.pending;

    if (scr === "student") this.renderStudent(v);
    if (scr === "saved") {
      $("saved-short").textContent = shortRecord(v.record_id);
      $("saved-full").textContent = v.record_id ?? "";
    }
    if (scr !== this.shown) {
      this.shown = scr;
      this.entered(scr);
    }
  }

  renderStudent(v) {
    const st = v.student ?? {};
    $("st-name").textContent = st.name ?? "";
    const badge = $("st-badge");
    badge.dataset.state = st.state ?? "";
    badge.textContent = st.state ? i18n.t(`st_${st.state}`) : "";
    $("st-reason").hidden = !st.reason;
    $("st-reason").textContent = st.reason ? i18n.t("rejectedReason", { reason: st.reason }) : "";
    $("st-masked").textContent = st.masked ?? "—";
    $("st-number").textContent = st.student_number || "—";
    $("st-school").textContent = st.school || "—";
    $("st-major").textContent = st.major || "—";
    $("st-year").textContent = st.graduation_year ? String(st.graduation_year) : "—";

    $("st-back").hidden = v.state !== "idle"; // a student who may not be photographed
    $("step-consent").hidden = v.state !== "identified";
    $("step-fee").hidden = v.state !== "consented";
    $("step-paid").hidden = v.state !== "paid";
    $("consent-version").textContent = CONSENT_VERSION;
    const retake = !!st.retake;
    $("fee-methods").hidden = retake;
    $("receipt-field").hidden = retake;
    $("fee-amount").textContent = retake ? i18n.t("feeFreeRetake") : i18n.t("feeAmount", { yuan: 30 });
    $("fee-amount").dataset.free = String(retake);
    const method = new FormData($("step-fee")).get("method");
    $("fee-ok").textContent = retake || method === "waived" ? i18n.t("confirmFree") : i18n.t("confirmFee", { yuan: 30 });
    const focus = v.state === "idle" ? "st-back" : v.state === "identified" ? "consent-ok" : v.state === "consented" ? (retake ? "fee-ok" : "receipt") : "frame-go";
    // Focus after the render, when the control is shown, and not while
    // this console's step awaits its result: its session event comes
    // first, while the buttons are still disabled, and a disabled button
    // takes no focus. The render of the result focuses it.
    if (this.studentStep !== `${v.id}:${v.state}` && !this.pending) {
      this.studentStep = `${v.id}:${v.state}`;
      queueMicrotask(() => $(focus).focus());
    }
  }

  // entered runs when a screen comes up: it resets its forms and focuses
  // the field the operator (or the scanner) types into first.
  entered(scr) {
    this.studentStep = "";
    // An error belongs to the screen it was made on.
    this.error = null;
    $("sess-error").hidden = true;
    switch (scr) {
      case "signin":
        $("op-pin").value = "";
        $("op-id").focus();
        break;
      case "start":
        for (const id of ["id-code", "id-number", "id-name"]) $(id).value = "";
        $("id-code").focus();
        break;
      case "student":
        $("receipt").value = "";
        $("step-fee").reset();
        break;
      case "saved":
        $("next-student").focus();
        break;
    }
  }
}
