// The framing checks as the console shows them: the 13 check ids in the
// station's report order, a settled status per check (so that a check that
// flickers for a frame or two does not make the list jump), the display
// order (failing first), and the small value/limit text.
//
// Nothing here touches the DOM: checklist.js renders what this computes.

// CHECK_IDS is the fixed vocabulary of kiosk/photo (CheckIDs), in report order.
export const CHECK_IDS = [
  "face_count",
  "framing",
  "resolution",
  "roll",
  "yaw",
  "pitch",
  "eyes_open",
  "mouth_closed",
  "exposure",
  "lighting",
  "sharpness",
  "background",
  "clothing",
];

// NAME_KEYS maps a check id to its i18n key.
export const NAME_KEYS = {
  face_count: "checkFaceCount",
  framing: "checkFraming",
  resolution: "checkResolution",
  roll: "checkRoll",
  yaw: "checkYaw",
  pitch: "checkPitch",
  eyes_open: "checkEyesOpen",
  mouth_closed: "checkMouthClosed",
  exposure: "checkExposure",
  lighting: "checkLighting",
  sharpness: "checkSharpness",
  background: "checkBackground",
  clothing: "checkClothing",
};

// RANK orders statuses for display: what needs doing first.
const RANK = { fail: 0, warn: 1, skip: 2, pass: 3 };
const STATUSES = Object.keys(RANK);

// DEFAULT_SETTLE_MS is how long a check must keep a new status before the
// console shows it (about four analysed frames at 15 Hz).
export const DEFAULT_SETTLE_MS = 250;

// CheckBoard keeps the shown status of each check. A check's first status
// shows at once, and so does a change to or from "skip" (a face appeared or
// went away: the whole list changes, and the overlay already shows it);
// any other change shows once the new status has held for settleMs.
export class CheckBoard {
  constructor(settleMs = DEFAULT_SETTLE_MS) {
    this.settleMs = settleMs;
    this.items = new Map(); // id -> {shown, result, pending, pendingResult, since}
  }

  // update takes the checks of one feedback, received at now (ms), and
  // reports whether any shown status or result changed.
  update(checks, now) {
    const seen = new Set();
    let changed = false;
    for (const c of checks ?? []) {
      if (!NAME_KEYS[c.id] || !STATUSES.includes(c.status)) continue; // unknown: ignore
      seen.add(c.id);
      const it = this.items.get(c.id);
      if (!it) {
        this.items.set(c.id, { shown: c.status, result: c, pending: null, since: 0 });
        changed = true;
        continue;
      }
      if (c.status === it.shown || c.status === "skip" || it.shown === "skip") {
        it.shown = c.status;
        it.pending = null;
        it.result = c; // newest value and hint of the shown status
        changed = true;
        continue;
      }
      if (it.pending !== c.status) {
        it.pending = c.status;
        it.since = now;
      }
      it.pendingResult = c;
    }
    // A check the feedback no longer lists is forgotten.
    for (const id of this.items.keys()) {
      if (!seen.has(id)) {
        this.items.delete(id);
        changed = true;
      }
    }
    return this.settle(now) || changed;
  }

  // settle shows every pending status that has held long enough, and
  // reports whether one did.
  settle(now) {
    let changed = false;
    for (const it of this.items.values()) {
      if (it.pending && now - it.since >= this.settleMs) {
        it.shown = it.pending;
        it.result = it.pendingResult;
        it.pending = null;
        changed = true;
      }
    }
    return changed;
  }

  // nextSettle returns when (ms) a pending status will be due, or 0.
  nextSettle() {
    let due = 0;
    for (const it of this.items.values()) {
      if (it.pending) {
        const t = it.since + this.settleMs;
        if (!due || t < due) due = t;
      }
    }
    return due;
  }

  clear() {
    this.items.clear();
  }

  // status returns the shown status of id, or "" if the check is unknown.
  status(id) {
    return this.items.get(id)?.shown ?? "";
  }

  // rows returns every known check as {id, status, result}, failing first,
  // then warnings, then those not measured, then passing; each group in
  // report order.
  rows() {
    const rows = [];
    for (const id of CHECK_IDS) {
      const it = this.items.get(id);
      if (it) rows.push({ id, status: it.shown, result: it.result });
    }
    return rows.sort((a, b) => RANK[a.status] - RANK[b.status] || CHECK_IDS.indexOf(a.id) - CHECK_IDS.indexOf(b.id));
  }
}

// How value and limit read for each check: the unit, the number of
// decimals, and whether the limit is a maximum ("max"), a minimum ("min"),
// a maximum of the absolute value ("abs"), depends on which side of the
// limit the value fell ("side"), or is special (count, framing).
const FORMATS = {
  face_count: { unit: "", digits: 0, kind: "count" },
  framing: { unit: " px", digits: 0, kind: "framing" },
  resolution: { unit: " px", digits: 0, kind: "min" },
  roll: { unit: "°", digits: 1, kind: "abs" },
  yaw: { unit: "°", digits: 1, kind: "abs" },
  pitch: { unit: "°", digits: 1, kind: "abs" },
  eyes_open: { unit: "", digits: 2, kind: "min" },
  mouth_closed: { unit: "", digits: 2, kind: "max" },
  exposure: { unit: "", digits: 2, kind: "side" },
  lighting: { unit: "%", digits: 0, kind: "abs", percent: true },
  sharpness: { unit: "", digits: 0, kind: "min" },
  background: { unit: "", digits: 1, kind: "max" },
  clothing: { unit: "", digits: 0, kind: "min" },
};

function num(v, f) {
  const x = f.percent ? v * 100 : v;
  return x.toFixed(f.digits);
}

// valueText returns the short value-against-limit text of a check result
// ("3.4° > ±2.0°"), or "—" when the check was not measured. The comparison
// sign says which side of the limit the value is on.
export function valueText(r) {
  if (!r || r.status === "skip" || typeof r.value !== "number") return "—";
  const f = FORMATS[r.id];
  if (!f) return "";
  const ok = r.status === "pass";
  const v = num(r.value, f) + f.unit;
  const lim = num(typeof r.limit === "number" ? r.limit : 0, f) + f.unit;
  switch (f.kind) {
    case "count":
      return `${num(r.value, f)} / ${num(r.limit ?? 1, f)}`;
    case "framing":
      return v; // how far the crop window sticks out (0 when it fits)
    case "min":
      return `${v} ${ok ? "≥" : "<"} ${lim}`;
    case "abs":
      return `${v} ${ok ? "≤" : ">"} ±${lim}`;
    case "side":
      if (ok) return `${v} ${r.value <= r.limit ? "≤" : "≥"} ${lim}`;
      return `${v} ${r.value < r.limit ? "<" : ">"} ${lim}`;
    default:
      return `${v} ${ok ? "≤" : ">"} ${lim}`;
  }
}
