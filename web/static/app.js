// The operator console: wires the socket, the preview, the framing overlay,
// the framing panel (verdict and checklist), the countdown, the capture
// review and the camera details (with the calibration) together. State the
// browser tests read is kept on window.kiosk.

import * as i18n from "./i18n.js";
import { StationSocket } from "./socket.js";
import { Preview } from "./preview.js";
import { Overlay } from "./overlay.js";
import { FramingPanel } from "./framing.js";
import { CountdownRing } from "./countdown.js";
import { reportRows, renderRows, failedChecks, rowKey } from "./review.js";
import { SessionScreens } from "./session.js";
import { NAME_KEYS } from "./checks.js";

const $ = (id) => document.getElementById(id);
const MIRROR_KEY = "kiosk.mirror";
const DETAILS_KEY = "kiosk.cameraDetails";
const QUEUE_KEY = "kiosk.queueDetails";

// kiosk is the page's observable state, for tests and for debugging.
const kiosk = {
  lang: i18n.lang(),
  connected: false,
  connects: 0,
  framesReceived: 0,
  framesPainted: 0,
  decodeErrors: 0,
  badge: "offline",
  mirror: true,
  version: "",
  lastEvent: null, // the type of the last text message
  camera: null,
  stats: null,
  frame: null, // {seq, width, height, rotation} of the frames being received
  // Framing (see docs/ui-protocol.md):
  feedbacks: 0, // feedback messages received
  feedback: null, // {seq, faces, ready, steady, heldMs, error} of the newest
  verdict: "waiting", // the card's state: waiting|error|fail|warn|hold|ready
  verdictTitle: "", // what the card says in big type
  checklist: [], // [{id, status}] in the order shown
  checklistChanges: 0, // how often that list (order or a status) changed
  countdown: null, // {state, remainingMs, shown, number, flashes}
  overlay: null, // {draws, guides, crop: [x, y, w, h] canvas px, colour}
  // Capture (see docs/ui-protocol.md):
  capture: null, // the newest capture event's data
  working: false, // a capture is being made: the spinner shows
  review: null, // {id, shown, loaded, naturalWidth, naturalHeight, rows} while a photo is under review
  refusal: null, // {id, code, hint} while a refusal is shown
  calibration: null, // the newest CalibrationStatus
  calibrating: false,
  lastResult: null, // {for, ok, code} of the newest result message
  toast: "", // the error text shown, if any
  // The operator's session (see docs/ui-protocol.md, "The session"):
  sessions: false, // the station runs sessions; without, no sign-in
  session: null, // the newest SessionView
  screen: null, // the session screen shown (signin|start|student|saved), null for framing
  emptyBooth: false, // the start screen made way for the live view to calibrate the empty booth
  // The queue panel (see docs/ui-protocol.md, "The queue panel"):
  queue: null, // the newest QueueStatus; null on a station without a queue
  figures: null, // the newest Figures
  retrying: "", // the record whose retry_record awaits its result
  queueMessage: "", // the error text of this console's last failed retry, while shown
};
window.kiosk = kiosk;

let retryAt = 0; // when the socket reconnects, while disconnected

const SESSION_COMMANDS = new Set(["sign_in", "sign_out", "identify", "consent", "pay", "frame", "cancel"]);
const session = new SessionScreens((m) => socket.send(m));

// applySession takes a session view and redraws what depends on it.
function applySession(view) {
  const wasEmptyBooth = session.emptyBooth;
  session.apply(view);
  sessionShown();
  // A student identified elsewhere (or a sign-out) ends the empty-booth
  // calibration: its question goes with it.
  if (wasEmptyBooth && !session.emptyBooth) closeConfirm();
  renderQueue(); // Retry is for a signed-in operator
}

// sessionShown copies what the session screens show to window.kiosk.
function sessionShown() {
  kiosk.session = session.view;
  kiosk.screen = session.shown;
  kiosk.emptyBooth = session.emptyBooth;
}

// framingAllowed: the capture button works (always without sessions).
function framingAllowed() {
  return !session.enabled || session.view?.state === "framing";
}

const stage = $("stage");
const viewport = $("viewport");
const hud = $("hud");
const overlay = new Overlay($("overlay"));
const framing = new FramingPanel($("verdict"), $("checklist"));
const ring = new CountdownRing($("countdown"), $("flash"));
overlay.status = (id) => framing.status(id);
framing.onSettle = () => renderFraming();
const preview = new Preview($("preview"), {
  onSize: () => layout(),
  onPaint: (n) => {
    kiosk.framesPainted = n;
    kiosk.decodeErrors = preview.errors;
    if (n === 1) renderNotice();
  },
});

// layout fits the stage (both canvases) into the viewport, keeping the
// frame's aspect ratio.
function layout() {
  const fw = preview.canvas.width;
  const fh = preview.canvas.height;
  const box = viewport.getBoundingClientRect();
  if (!fw || !fh || !box.width || !box.height || !kiosk.framesPainted) {
    stage.hidden = !kiosk.framesPainted;
    return;
  }
  stage.hidden = false;
  const scale = Math.min(box.width / fw, box.height / fh);
  const w = Math.floor(fw * scale);
  const h = Math.floor(fh * scale);
  stage.style.width = `${w}px`;
  stage.style.height = `${h}px`;
  hud.style.width = `${w}px`;
  hud.style.height = `${h}px`;
  overlay.resize(w, h, fw, fh);
}
new ResizeObserver(layout).observe(viewport);

// --- mirror ---------------------------------------------------------------

function loadMirror() {
  try {
    return localStorage.getItem(MIRROR_KEY) !== "0"; // on unless turned off
  } catch {
    return true;
  }
}

function setMirror(on) {
  kiosk.mirror = on;
  overlay.mirrored = on;
  overlay.draw(); // labels are flipped back for the new orientation
  stage.classList.toggle("mirrored", on);
  $("mirror-toggle").setAttribute("aria-pressed", String(on));
  try {
    localStorage.setItem(MIRROR_KEY, on ? "1" : "0");
  } catch {
    // not remembered
  }
}

$("mirror-toggle").addEventListener("click", () => setMirror(!kiosk.mirror));

// --- camera details (collapsed unless the operator opened them) ------------

try {
  $("camera").open = localStorage.getItem(DETAILS_KEY) === "1";
} catch {
  // closed
}
$("camera").addEventListener("toggle", () => {
  try {
    localStorage.setItem(DETAILS_KEY, $("camera").open ? "1" : "0");
  } catch {
    // not remembered
  }
});

// --- the queue panel (collapsed unless the operator opened it) -------------

try {
  $("queue").open = localStorage.getItem(QUEUE_KEY) === "1";
} catch {
  // closed
}
$("queue").addEventListener("toggle", () => {
  try {
    localStorage.setItem(QUEUE_KEY, $("queue").open ? "1" : "0");
  } catch {
    // not remembered
  }
});

// hhmm is the local HH:MM of an RFC 3339 time, "" if absent.
function hhmm(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return "";
  return d.toLocaleTimeString(i18n.lang(), { hour: "2-digit", minute: "2-digit", hour12: false });
}

// retakeList names the (at most) three checks that caused the most retakes.
function retakeList(by) {
  return Object.entries(by ?? {})
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([id, n]) => `${i18n.t(id === "none" ? "checkNone" : (NAME_KEYS[id] ?? id))} ${n}`)
    .join(i18n.t("qListSep"));
}

function setLine(id, s, alert = false) {
  const el = $(id);
  if (el.textContent !== s) el.textContent = s;
  el.dataset.alert = alert ? "true" : "false";
}

function renderQueue() {
  const q = kiosk.queue;
  $("queue").hidden = !q;
  if (!q) return;
  const c = q.counts ?? {};
  const n = (k) => c[k] ?? 0;
  const queued = n("queued") + n("uploading");
  const f = kiosk.figures ?? {};
  const parked = n("parked");
  let summary = i18n.t("qSummary", { queued, saved: f.saved ?? 0 });
  if (parked > 0) summary += " · " + i18n.t("qParked", { n: parked });
  text("queue-summary", summary);
  $("queue-summary").dataset.alert = parked > 0 || q.error ? "true" : "false";
  if (q.error) {
    setLine("q-counts", i18n.t("qError"), true);
  } else {
    const oldest = hhmm(q.oldest_queued);
    setLine(
      "q-counts",
      [
        i18n.t("qQueued", { n: queued }) + (oldest ? i18n.t("qOldest", { time: oldest }) : ""),
        i18n.t("qAccepted", { n: n("accepted") }),
        i18n.t("qApproved", { n: n("approved") }),
        i18n.t("qRejected", { n: n("rejected") }),
        i18n.t("qParked", { n: parked }),
      ].join(" · "),
      parked > 0,
    );
  }
  renderSync(q);
  renderRecent(q.recent ?? []);
  renderQueueMessage();
  const secs = Math.round(f.median_seconds ?? 0);
  const today = [i18n.t("qToday", { n: f.saved ?? 0 })];
  if (f.saved) {
    today.push(i18n.t("qPerHour", { n: Math.round((f.per_hour ?? 0) * 10) / 10 }));
    today.push(i18n.t("qMedian", { m: Math.floor(secs / 60), s: secs % 60 }));
  }
  setLine("q-today", today.join(" · "));
  const list = retakeList(f.retakes_by_check);
  setLine("q-retakes", i18n.t(list ? "qRetakesBy" : "qRetakes", { n: f.retakes ?? 0, list }));
}

// renderSync is the sync-with-central line: its state, the last success,
// and what the operator or technician should know.
function renderSync(q) {
  const h = q.sync;
  const last = hhmm(q.last_sync) || "—";
  if (!h) {
    setLine("q-sync", i18n.t("syncOff"));
    return;
  }
  const key = { idle: "syncIdle", syncing: "syncSyncing", offline: "syncOffline", blocked: "syncBlocked" }[h.state] ?? "syncSyncing";
  const parts = [i18n.t(key, { time: hhmm(h.next_retry) || "—" }), i18n.t("qLastSync", { time: last })];
  setLine("q-sync", parts.join(" · "), h.state === "blocked" || h.state === "offline");
  $("q-sync").title = h.last_error ?? "";
}

const STATE_KEYS = {
  queued: "stQueued",
  uploading: "stUploading",
  accepted: "stAccepted",
  approved: "stApproved",
  rejected: "stRejected",
  parked: "stParked",
};

// canRetry: Retry buttons show (a signed-in operator on a live socket).
function canRetry() {
  return kiosk.connected && session.enabled && !!session.view && session.view.state !== "signed_out";
}

// renderRecent lists the newest records with their sync states; a record
// that needs the operator (parked, rejected) says why, and a parked one
// has a Retry button. A waiting record's last upload error is its tooltip.
function renderRecent(recent) {
  const ol = $("q-recent");
  const retry = canRetry();
  const rows = recent.map((r) => {
    const li = document.createElement("li");
    li.dataset.state = r.state;
    li.dataset.id = r.id;
    const needs = r.state === "rejected" || r.state === "parked";
    const reason = needs ? r.reason || r.last_error || "" : "";
    const label = i18n.t(STATE_KEYS[r.state] ?? "stQueued");
    const cells = [hhmm(r.created_at), r.masked, label + (reason ? "：" + reason : "")];
    if (r.retake) cells.push(i18n.t("stRetake"));
    if (r.exported && r.state !== "accepted" && r.state !== "approved" && r.state !== "rejected") cells.push(i18n.t("stExported"));
    const line = document.createElement("span");
    line.className = "q-record";
    line.textContent = cells.join("  ");
    li.append(line);
    if (!needs && r.last_error && (r.state === "queued" || r.state === "uploading")) li.title = r.last_error;
    if (retry && r.state === "parked") {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn q-retry";
      b.dataset.id = r.id;
      b.textContent = i18n.t("qRetry");
      b.title = i18n.t("qRetryTitle");
      b.disabled = !!kiosk.retrying;
      li.append(b);
    }
    return li;
  });
  const sig = [retry, kiosk.retrying].join(",") + "|" + rows.map((li) => li.dataset.state + li.title + li.textContent).join("|");
  if (ol.dataset.sig === sig) return;
  ol.dataset.sig = sig;
  ol.replaceChildren(...rows);
}

// renderQueueMessage shows why this console's last retry failed.
function renderQueueMessage() {
  const el = $("q-msg");
  el.hidden = !kiosk.queueMessage;
  if (el.textContent !== kiosk.queueMessage) el.textContent = kiosk.queueMessage;
}

let queueMessageTimer = 0;

// retryRecord asks the station to queue a parked record again; the
// station's answer is a result, then a queue message with the new state.
function retryRecord(id) {
  if (!id || kiosk.retrying || !canRetry()) return;
  kiosk.queueMessage = "";
  if (socket.send({ type: "retry_record", id })) kiosk.retrying = id;
  renderQueue();
}

$("q-recent").addEventListener("click", (e) => {
  const b = e.target instanceof Element ? e.target.closest("button.q-retry") : null;
  if (b) retryRecord(b.dataset.id);
});

// retryResult takes the answer to this console's retry_record.
function retryResult(m) {
  kiosk.retrying = "";
  clearTimeout(queueMessageTimer);
  kiosk.queueMessage = m.ok ? "" : errorText(m.error);
  if (kiosk.queueMessage) {
    queueMessageTimer = setTimeout(() => {
      kiosk.queueMessage = "";
      renderQueueMessage();
    }, 8000);
  }
  renderQueue();
}

function applyQueue(d) {
  kiosk.queue = d.queue ?? null;
  if (d.figures) kiosk.figures = d.figures;
  renderQueue();
}

// --- language -------------------------------------------------------------

$("lang-toggle").addEventListener("click", () => {
  i18n.setLang(i18n.lang() === "zh-CN" ? "en" : "zh-CN");
});
// The session screens' Enter submits their forms; the language switch
// must not steal the focus from them.
$("lang-toggle").addEventListener("mousedown", (e) => e.preventDefault());

i18n.onChange((l) => {
  kiosk.lang = l;
  session.render();
  renderQueue();
  render();
  renderFraming();
  renderCapture();
  socket.send({ type: "hello", lang: l });
});

// --- rendering ------------------------------------------------------------

// badge returns the state name and label of the camera badge.
function badge() {
  if (!kiosk.connected) return { state: "offline", label: i18n.t("badgeOffline") };
  const cam = kiosk.camera;
  if (!cam) return { state: "starting", label: i18n.t("badgeStarting") };
  switch (cam.state) {
    case "streaming":
      if (cam.source === "demo") return { state: "demo", label: i18n.t("badgeDemo") };
      if (cam.source === "replay") return { state: "replay", label: i18n.t("badgeReplay") };
      return { state: "live", label: i18n.t("badgeLive") };
    case "reconnecting":
      return { state: "reconnecting", label: i18n.t("badgeReconnecting"), reason: cam.reason };
    case "busy":
      return { state: "busy", label: i18n.t("badgeBusy"), reason: cam.reason };
    case "stopped":
      return { state: "stopped", label: i18n.t("badgeStopped"), reason: cam.reason };
    default:
      return { state: "starting", label: i18n.t("badgeStarting") };
  }
}

const sourceKeys = { v4l2: "sourceV4L2", demo: "sourceDemo", replay: "sourceReplay" };
const stateKeys = {
  streaming: "stateStreaming",
  starting: "stateStarting",
  reconnecting: "stateReconnecting",
  busy: "stateBusy",
  stopped: "stateStopped",
};

function text(id, value) {
  const el = $(id);
  const s = value === undefined || value === null || value === "" ? "—" : String(value);
  if (el.textContent !== s) el.textContent = s;
}

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return "";
  return d.toLocaleTimeString(i18n.lang(), { hour12: false });
}

function renderNotice() {
  const notice = $("notice");
  let key = null;
  if (!kiosk.connected) key = "disconnected";
  else if (!kiosk.framesPainted) key = "waiting";
  notice.hidden = key === null;
  if (key) notice.textContent = i18n.t(key);
  layout();
}

function renderConnection() {
  const el = $("conn-state");
  el.dataset.connected = String(kiosk.connected);
  if (kiosk.connected) {
    el.textContent = i18n.t("connected");
  } else if (retryAt) {
    const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    el.textContent = i18n.t("reconnectingIn", { s });
  } else {
    el.textContent = i18n.t("disconnected");
  }
}

function render() {
  const b = badge();
  kiosk.badge = b.state;
  const el = $("badge");
  el.dataset.state = b.state;
  text("badge-label", b.label);
  $("badge-reason").textContent = b.reason ? b.reason : "";

  const cam = kiosk.camera || {};
  const stats = kiosk.stats || {};
  const live = kiosk.connected;
  $("demo-ribbon").hidden = !(live && cam.source === "demo");
  text("stat-fps", live && stats.fps !== undefined ? `${stats.fps.toFixed(1)} fps` : "");
  text("stat-size", live && stats.width ? `${stats.width} × ${stats.height}` : "");

  text("cam-state", cam.state ? i18n.t(stateKeys[cam.state] ?? "stateStarting") : "");
  text("cam-source", cam.source ? i18n.t(sourceKeys[cam.source] ?? "sourceV4L2") : "");
  text("cam-device", cam.device);
  text("cam-format", cam.format);
  text("cam-fps", stats.fps !== undefined ? stats.fps.toFixed(1) : "");
  text("cam-size", stats.width ? `${stats.width} × ${stats.height}` : "");
  text("cam-rotation", kiosk.frame ? i18n.t("degrees", { n: kiosk.frame.rotation }) : "");
  text("cam-frames", stats.frames);
  text("cam-since", cam.since ? formatTime(cam.since) : "");
  const summary = [
    cam.state ? i18n.t(stateKeys[cam.state] ?? "stateStarting") : "",
    live && stats.fps !== undefined ? `${stats.fps.toFixed(1)} fps` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  if ($("camera-summary").textContent !== summary) $("camera-summary").textContent = summary;
  text("version", kiosk.version);
  $("lang-toggle").lang = i18n.lang() === "zh-CN" ? "en" : "zh-CN";
  renderConnection();
  renderNotice();
}

// --- the socket -----------------------------------------------------------

function applyStatus(status) {
  if (!status) return;
  kiosk.camera = status.camera ?? kiosk.camera;
  kiosk.stats = status.stats ?? kiosk.stats;
  if (status.feedback) applyFeedback(status.feedback);
  if (status.calibration) kiosk.calibration = status.calibration;
  if (status.session) applySession(status.session);
  applyQueue(status);
  // A snapshot is the truth about the review: after a reconnect the photo
  // under review shows again, and one that ended meanwhile goes away.
  if (status.review && status.review.state === "review") {
    applyCapture(status.review);
  } else if (kiosk.review) {
    kiosk.review = null;
  }
  renderCapture();
}

// --- capture, review, refusal ---------------------------------------------

const WORKING_LOST_MS = 30000; // the spinner gives up if no result comes
let workingTimer = 0;
let toastTimer = 0;

function setWorking(on) {
  kiosk.working = on;
  clearTimeout(workingTimer);
  if (on) {
    workingTimer = setTimeout(() => {
      kiosk.working = false;
      renderCapture();
    }, WORKING_LOST_MS);
  }
}

// applyCapture follows a capture through its states (a "capture" event, or
// the review in a status snapshot).
function applyCapture(c) {
  kiosk.capture = c;
  switch (c.state) {
    case "working":
      setWorking(true);
      kiosk.refusal = null;
      break;
    case "review":
      setWorking(false);
      kiosk.refusal = null;
      if (kiosk.review?.id !== c.id) {
        kiosk.review = { id: c.id, shown: false, loaded: false, naturalWidth: 0, naturalHeight: 0, rows: [] };
      }
      kiosk.review.capture = c;
      kiosk.review.rows = reportRows(c.report);
      break;
    case "refused":
      setWorking(false);
      kiosk.review = null;
      kiosk.refusal = { id: c.id, code: c.refusal?.code ?? "", hint: c.refusal?.hint ?? null, report: c.report ?? null };
      break;
    case "accepted":
    case "discarded":
      if (kiosk.review?.id === c.id) kiosk.review = null;
      break;
  }
}

function showToast(text) {
  kiosk.toast = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    kiosk.toast = "";
    renderCapture();
  }, 6000);
}

function errorText(e) {
  if (!e) return "";
  return i18n.lang() === "zh-CN" ? e.zh : e.en;
}

// applyResult takes the answer to one of this console's commands.
function applyResult(m) {
  kiosk.lastResult = { for: m.for, ok: !!m.ok, code: m.error?.code ?? "" };
  switch (m.for) {
    case "capture":
      if (!m.ok) {
        // This capture never started, so no event will end the spinner;
        // keep it only while another capture is seen working.
        setWorking(m.error?.code === "busy" && kiosk.capture?.state === "working");
        showToast(errorText(m.error));
      }
      break;
    case "accept":
    case "retake":
      if (kiosk.review) kiosk.review.sent = false;
      if (!m.ok) {
        if (m.error?.code === "no_capture") kiosk.review = null; // ended elsewhere
        showToast(errorText(m.error));
      }
      break;
    case "calibrate":
      kiosk.calibrating = false;
      calMessage = m.ok ? { key: "calibrateDone" } : { error: m.error };
      if (m.ok && m.data) kiosk.calibration = m.data;
      if (session.emptyBooth) queueMicrotask(() => $("cal-back").focus()); // Enter: back to the start screen
      break;
  }
  renderCapture();
}

function capture() {
  if (!kiosk.connected || kiosk.working || kiosk.review || !framingAllowed()) return;
  kiosk.refusal = null;
  if (socket.send({ type: "capture" })) setWorking(true);
  renderCapture();
}

function endReview(type) {
  const r = kiosk.review;
  if (!r || r.sent) return;
  r.sent = socket.send({ type, id: r.id }); // once: a double click must not answer no_capture
  renderCapture();
}

$("capture").addEventListener("click", capture);
$("retake").addEventListener("click", () => endReview("retake"));
$("accept").addEventListener("click", () => endReview("accept"));
$("refusal-back").addEventListener("click", () => {
  kiosk.refusal = null;
  renderCapture();
});

// Space takes a photo, unless the operator is typing or on a control that
// Space already works (a button, a summary).
document.addEventListener("keydown", (e) => {
  if (e.code !== "Space" || e.repeat || e.ctrlKey || e.altKey || e.metaKey) return;
  const el = e.target;
  if (el instanceof Element && el.closest("input, textarea, select, button, summary, [contenteditable]")) return;
  e.preventDefault();
  capture();
});

const photo = $("review-photo");
photo.addEventListener("load", () => {
  if (!kiosk.review || photo.dataset.id !== String(kiosk.review.id)) return;
  kiosk.review.loaded = true;
  kiosk.review.naturalWidth = photo.naturalWidth;
  kiosk.review.naturalHeight = photo.naturalHeight;
});

function renderCapture() {
  const live = kiosk.connected;
  const r = kiosk.review;
  const btn = $("capture");
  btn.disabled = !live || kiosk.working || !!r || !framingAllowed();
  $("working").hidden = !kiosk.working;

  // The review panel takes the framing panel's place beside the preview.
  document.body.classList.toggle("reviewing", !!r);
  session.setReviewing(!!r);
  $("review").hidden = !r;
  if (r) {
    const c = r.capture ?? {};
    const src = `/api/captures/${r.id}/photo.jpg`;
    if (photo.dataset.id !== String(r.id)) {
      photo.dataset.id = String(r.id);
      photo.src = src;
    }
    photo.alt = i18n.t("reviewPhotoAlt");
    const meta = [
      i18n.t(c.auto ? "reviewAuto" : "reviewManual"),
      c.took_ms ? i18n.t("reviewTook", { s: (c.took_ms / 1000).toFixed(1) }) : "",
    ].filter(Boolean);
    $("review-meta").textContent = meta.join(" · ");
    const ok = !!c.report?.ok;
    const verdict = $("review-verdict");
    verdict.dataset.ok = String(ok);
    verdict.textContent = i18n.t(ok ? "reviewOK" : "reviewNotOK");
    renderRows($("report-rows"), r.rows, i18n.t);
    $("retake").disabled = $("accept").disabled = !live || !!r.sent;
    r.shown = true;
  } else if (photo.dataset.id) {
    delete photo.dataset.id;
    photo.removeAttribute("src");
  }

  // A refusal: the physical fix, big, over the preview.
  const f = kiosk.refusal;
  $("refusal").hidden = !f;
  if (f) {
    let hint = f.hint ? (i18n.lang() === "zh-CN" ? f.hint.zh : f.hint.en) : "";
    let detail = "";
    if (!hint) {
      hint = i18n.t("refusedProof");
      const names = failedChecks(f.report)
        .map((id) => (rowKey(id) ? i18n.t(rowKey(id)) : id))
        .join(i18n.lang() === "zh-CN" ? "、" : ", ");
      if (names) detail = i18n.t("refusedFailed", { names });
    }
    text("refusal-hint", hint);
    $("refusal-detail").textContent = detail;
  }

  const toast = $("toast");
  toast.hidden = !kiosk.toast;
  if (toast.textContent !== kiosk.toast) toast.textContent = kiosk.toast;

  renderCalibration();
}

// --- calibration ------------------------------------------------------------

let calMessage = null; // {key} or {error} after this console's calibration

function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return "";
  return d.toLocaleString(i18n.lang(), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

function renderCalibration() {
  const cal = kiosk.calibration;
  const warn = !!cal?.calibrated && cal.drift > cal.drift_warn;
  let state = "";
  let drift = "";
  if (cal) {
    state = cal.calibrated ? i18n.t("calibratedAt", { date: formatDate(cal.time) }) : i18n.t("notCalibrated");
    if (cal.calibrated) drift = i18n.t("drift", { d: (cal.drift ?? 0).toFixed(1), w: (cal.drift_warn ?? 0).toFixed(0) });
  }
  text("cal-state", state);
  text("cal-drift", drift);
  $("cal-drift").dataset.warn = String(warn);
  $("cal-warn").hidden = !warn;
  const chip = $("cal-chip");
  const chipText = !cal ? "" : !cal.calibrated ? i18n.t("notCalibrated") : warn ? i18n.t("recalibrate") : "";
  chip.hidden = !chipText;
  chip.dataset.warn = String(warn);
  if (chip.textContent !== chipText) chip.textContent = chipText;
  // Beside the start screen's button, which covers the camera details.
  const start = $("start-cal-state");
  const startText = warn ? i18n.t("recalibrate") : state;
  start.dataset.warn = String(warn);
  if (start.textContent !== startText) start.textContent = startText;

  const go = $("calibrate");
  go.disabled = !kiosk.connected || kiosk.calibrating || kiosk.working;
  go.textContent = i18n.t(kiosk.calibrating ? "calibrating" : "calibrate");
  // Back to the start screen, once the empty-booth calibration's question
  // is answered.
  $("cal-back").hidden = !session.emptyBooth || !$("cal-confirm").hidden;
  const msg = $("cal-msg");
  const m = calMessage ? (calMessage.error ? errorText(calMessage.error) : i18n.t(calMessage.key)) : "";
  msg.dataset.error = String(!!calMessage?.error);
  if (msg.textContent !== m) msg.textContent = m;
}

// openConfirm asks whether the booth is empty before calibrating.
function openConfirm() {
  calMessage = null;
  $("cal-confirm").hidden = false;
  $("calibrate").hidden = true;
  renderCalibration();
  $("cal-go").focus();
  $("cal-confirm").scrollIntoView({ block: "nearest" });
}

function closeConfirm() {
  $("cal-confirm").hidden = true;
  $("calibrate").hidden = false;
  renderCalibration();
}

$("calibrate").addEventListener("click", openConfirm);

// From the start screen: the session screens make way for the live view
// and the camera details, where the same question is asked; the operator
// sees the booth while answering.
$("start-calibrate").addEventListener("click", () => {
  session.setEmptyBooth(true);
  sessionShown();
  if (!session.emptyBooth) return;
  $("camera").open = true;
  openConfirm();
});

// leaveEmptyBooth returns from the empty-booth calibration to the start
// screen.
function leaveEmptyBooth() {
  closeConfirm();
  session.setEmptyBooth(false);
  sessionShown();
}

$("cal-back").addEventListener("click", leaveEmptyBooth);
$("cal-cancel").addEventListener("click", () => {
  if (session.emptyBooth) leaveEmptyBooth();
  else closeConfirm();
});
$("cal-go").addEventListener("click", () => {
  closeConfirm();
  if (socket.send({ type: "calibrate" })) kiosk.calibrating = true;
  renderCalibration();
});

// --- framing --------------------------------------------------------------

function applyFeedback(fb) {
  kiosk.feedbacks++;
  kiosk.feedback = {
    seq: fb.seq,
    faces: fb.faces ?? 0,
    ready: !!fb.ready,
    steady: !!fb.steady,
    heldMs: fb.held_ms ?? 0,
    error: fb.error ?? "",
  };
  framing.feedback(fb);
  if (!fb.steady) ring.cancel();
}

// renderFraming redraws what depends on the feedback: the panel and the
// overlay (the overlay's colours follow the panel's settled statuses).
function renderFraming() {
  const now = performance.now();
  framing.render(now);
  overlay.labels = { crown: i18n.t("guideCrown"), eyes: i18n.t("guideEyes") };
  overlay.show(framing.fresh(now));
  const st = framing.state();
  kiosk.verdict = st.verdict;
  kiosk.verdictTitle = st.title;
  kiosk.checklist = st.checklist;
  kiosk.checklistChanges = st.changes;
  kiosk.countdown = ring.state();
  kiosk.overlay = { draws: overlay.draws, guides: overlay.guides, crop: overlay.crop, colour: overlay.cropColour };
}

// Feedback that stops coming goes stale: the panel says it is waiting, the
// overlay clears, and a countdown whose messages stopped hides.
let wasFresh = false;
setInterval(() => {
  ring.tick();
  const fresh = framing.fresh() !== null;
  if (fresh !== wasFresh || kiosk.countdown?.shown !== ring.state().shown) renderFraming();
  wasFresh = fresh;
}, 250);

const handlers = {
  hello: (d) => {
    kiosk.version = d.version;
    session.enabled = kiosk.sessions = !!d.sessions;
    applyStatus(d.status);
  },
  status: (d) => applyStatus(d),
  queue: (d) => applyQueue(d),
  camera: (d) => {
    kiosk.camera = d;
  },
  stats: (d) => {
    kiosk.stats = d;
  },
  frame: (d) => {
    kiosk.frame = d;
    preview.setRotation(d.rotation);
  },
};

// Capture messages redraw only the capture parts of the page. A result's
// fields are at the top level of the message, not in data.
const captureHandlers = {
  capture: (m) => applyCapture(m.data ?? {}),
  calibration: (m) => {
    kiosk.calibration = m.data ?? null;
  },
  result: (m) => {
    if (SESSION_COMMANDS.has(m.for)) {
      kiosk.lastResult = { for: m.for, ok: !!m.ok, code: m.error?.code ?? "" };
      session.result(m);
      sessionShown();
    } else if (m.for === "retry_record") {
      kiosk.lastResult = { for: m.for, ok: !!m.ok, code: m.error?.code ?? "" };
      retryResult(m);
    } else {
      applyResult(m);
    }
  },
  session: (m) => applySession(m.data ?? null),
};

// Framing messages come 15 times a second: they redraw only the framing
// parts of the page.
const framingHandlers = {
  feedback: (d) => applyFeedback(d),
  countdown: (d) => {
    ring.update(d);
    framing.countdown(d);
  },
};

const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const socket = new StationSocket(url, {
  open: () => {
    kiosk.connected = true;
    kiosk.connects = socket.opens;
    retryAt = 0;
    framing.setLive(true);
    socket.send({ type: "hello", lang: i18n.lang() });
    render();
    renderFraming();
    renderCapture();
    renderQueue();
  },
  close: (delay) => {
    kiosk.connected = false;
    retryAt = Date.now() + delay;
    framing.setLive(false);
    ring.cancel();
    setWorking(false);
    kiosk.calibrating = false;
    session.disconnected();
    kiosk.retrying = "";
    render();
    renderFraming();
    renderCapture();
    renderQueue();
  },
  message: (msg) => {
    kiosk.lastEvent = msg.type;
    const f = framingHandlers[msg.type];
    if (f) {
      f(msg.data ?? {});
      renderFraming();
      return;
    }
    const c = captureHandlers[msg.type];
    if (c) {
      c(msg);
      renderCapture();
      return;
    }
    const h = handlers[msg.type];
    if (h) {
      h(msg.data ?? {});
      render();
      renderFraming(); // a status snapshot may carry a feedback
    }
  },
  frame: (buf) => {
    kiosk.framesReceived++;
    preview.push(buf);
  },
});

// While disconnected, count down to the next attempt.
setInterval(() => {
  if (!kiosk.connected) renderConnection();
}, 1000);

i18n.apply();
setMirror(loadMirror());
render();
renderFraming();
renderCapture();
socket.start();
