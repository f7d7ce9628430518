// The operator console: wires the socket, the preview, the framing overlay,
// the framing panel (verdict and checklist), the countdown and the camera
// details together. State the browser tests read is kept on window.kiosk.

import * as i18n from "./i18n.js";
import { StationSocket } from "./socket.js";
import { Preview } from "./preview.js";
import { Overlay } from "./overlay.js";
import { FramingPanel } from "./framing.js";
import { CountdownRing } from "./countdown.js";

const $ = (id) => document.getElementById(id);
const MIRROR_KEY = "kiosk.mirror";
const DETAILS_KEY = "kiosk.cameraDetails";

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
};
window.kiosk = kiosk;

let retryAt = 0; // when the socket reconnects, while disconnected

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

// --- language -------------------------------------------------------------

$("lang-toggle").addEventListener("click", () => {
  i18n.setLang(i18n.lang() === "zh-CN" ? "en" : "zh-CN");
});

i18n.onChange((l) => {
  kiosk.lang = l;
  render();
  renderFraming();
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
}

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
    applyStatus(d.status);
  },
  status: (d) => applyStatus(d),
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
  },
  close: (delay) => {
    kiosk.connected = false;
    retryAt = Date.now() + delay;
    framing.setLive(false);
    ring.cancel();
    render();
    renderFraming();
  },
  message: (msg) => {
    kiosk.lastEvent = msg.type;
    const f = framingHandlers[msg.type];
    if (f) {
      f(msg.data ?? {});
      renderFraming();
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
socket.start();
