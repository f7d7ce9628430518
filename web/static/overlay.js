// The framing overlay: a transparent canvas laid exactly over the preview,
// on which the newest feedback's geometry is drawn: the crop window (the
// part of the frame that becomes the photo; the rest is dimmed), the
// spec's crown band, eye band and face-width bands, the centre line, and
// the detected pupils.
//
// Coordinates. The feedback's geometry is in pixels of the upright frame
// (after rotation), the picture the preview canvas holds; the output bands
// are in pixels of the output photo and map to the frame through the crop:
// frame x = crop.x + out_x / crop.scale, frame y = crop.y + out_y /
// crop.scale. The overlay canvas has the preview's displayed size (times
// devicePixelRatio), so a frame point maps by a plain scale: letterboxing
// is done by the stage that holds both canvases.
//
// Mirroring. Both canvases sit in the stage, which the mirror switch flips
// with a CSS transform, so the guides flip with the picture. Text would
// read backwards: labels are drawn flipped back (see label) when
// `mirrored` is set.

const COLOURS = {
  pass: "#2fbf71",
  warn: "#f2b33d",
  fail: "#ef5350",
  skip: "#9aa3ad",
  "": "#9aa3ad",
};
const BAND_FILL = "rgba(120, 200, 255, 0.16)";
const BAND_EDGE = "rgba(160, 220, 255, 0.75)";
const CENTRE = "rgba(160, 220, 255, 0.55)";
const DIM = "rgba(6, 8, 10, 0.38)";

// worst returns the worse of two check statuses.
function worst(a, b) {
  const rank = { fail: 0, warn: 1, skip: 2, pass: 3, "": 4 };
  return rank[a] <= rank[b] ? a : b;
}

export class Overlay {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.frameWidth = 0; // preview size in frame pixels
    this.frameHeight = 0;
    this.mirrored = false;
    this.fb = null; // the feedback drawn, or null
    this.status = () => ""; // check id -> shown status
    this.labels = { crown: "", eyes: "" };
    this.draws = 0;
    this.guides = false; // the last draw drew guides
    this.crop = null; // the crop window of the last draw, in canvas pixels
    this.cropColour = "";
  }

  // resize matches the backing store to the displayed size (css pixels times
  // devicePixelRatio), so lines stay sharp, and redraws.
  resize(cssWidth, cssHeight, frameWidth, frameHeight) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(cssWidth * dpr));
    const h = Math.max(1, Math.round(cssHeight * dpr));
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    this.frameWidth = frameWidth;
    this.frameHeight = frameHeight;
    this.draw();
  }

  // show sets the feedback to draw (null for none) and redraws.
  show(fb) {
    this.fb = fb;
    this.draw();
  }

  // drawable reports whether fb has guides that fit the preview: a face,
  // a crop, and the same upright shape as the picture on screen (a
  // feedback from before a rotation change is not drawn).
  drawable(fb) {
    const g = fb?.geometry;
    if (!g || !g.found || !(g.width > 0) || !(g.height > 0)) return false;
    if (!(g.crop?.scale > 0) || !(g.crop.w > 0) || !(g.crop.h > 0)) return false;
    if (!this.frameWidth || !this.frameHeight) return false;
    return Math.abs(g.width / g.height - this.frameWidth / this.frameHeight) < 0.02;
  }

  draw() {
    const { ctx, canvas } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    this.draws++;
    this.guides = false;
    this.crop = null;
    this.cropColour = "";
    const fb = this.fb;
    if (!this.drawable(fb)) return;

    const g = fb.geometry;
    const c = g.crop;
    const o = g.output ?? {};
    const W = canvas.width;
    const H = canvas.height;
    const sx = W / g.width;
    const sy = H / g.height;
    const px = (x) => x * sx; // frame -> canvas
    const py = (y) => y * sy;
    const ox = (x) => px(c.x + x / c.scale); // output -> canvas
    const oy = (y) => py(c.y + y / c.scale);
    const dpr = window.devicePixelRatio || 1;
    const line = Math.max(1, Math.round(1.5 * dpr));

    const cx = px(c.x);
    const cy = py(c.y);
    const cw = px(c.w);
    const ch = py(c.h);
    const right = ox(fb.spec?.width || c.w * c.scale);
    const bottom = oy(fb.spec?.height || c.h * c.scale);

    // Dim what falls outside the crop window.
    ctx.fillStyle = DIM;
    ctx.beginPath();
    ctx.rect(0, 0, W, H);
    ctx.rect(cx, cy, cw, ch);
    ctx.fill("evenodd");

    // Horizontal bands across the crop window: crown and eyes.
    const hband = (b) => {
      if (!Array.isArray(b) || b[1] <= b[0]) return null;
      const y0 = oy(b[0]);
      const y1 = oy(b[1]);
      ctx.fillStyle = BAND_FILL;
      ctx.fillRect(cx, y0, right - cx, y1 - y0);
      ctx.strokeStyle = BAND_EDGE;
      ctx.lineWidth = line;
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.moveTo(cx, y0);
      ctx.lineTo(right, y0);
      ctx.moveTo(cx, y1);
      ctx.lineTo(right, y1);
      ctx.stroke();
      return [y0, y1];
    };
    const crown = hband(o.crown_band);
    const eyes = hband(o.eye_band);

    // The face-width band: where the cheeks must fall, on both sides of the
    // centre line, drawn at the cheeks: from the eye band's bottom down
    // about as far again as the eye band is tall.
    const fw = o.face_width_band;
    const cl = o.centre_line;
    if (Array.isArray(fw) && fw[1] > fw[0] && cl > 0 && Array.isArray(o.eye_band)) {
      const top = oy(o.eye_band[1]);
      const bot = oy(o.eye_band[1] + 1.2 * (o.eye_band[1] - o.eye_band[0]));
      ctx.fillStyle = BAND_FILL;
      ctx.strokeStyle = BAND_EDGE;
      ctx.lineWidth = line;
      for (const [a, b] of [
        [cl - fw[1] / 2, cl - fw[0] / 2],
        [cl + fw[0] / 2, cl + fw[1] / 2],
      ]) {
        const x0 = ox(a);
        const x1 = ox(b);
        ctx.fillRect(x0, top, x1 - x0, bot - top);
        ctx.strokeRect(x0, top, x1 - x0, bot - top);
      }
    }

    // The centre line.
    if (cl > 0) {
      ctx.strokeStyle = CENTRE;
      ctx.lineWidth = line;
      ctx.setLineDash([6 * dpr, 6 * dpr]);
      ctx.beginPath();
      ctx.moveTo(ox(cl), cy);
      ctx.lineTo(ox(cl), bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // The crop window, coloured by the checks that are about it.
    const st = worst(this.status("framing"), this.status("resolution"));
    const colour = COLOURS[st] ?? COLOURS[""];
    ctx.strokeStyle = colour;
    ctx.lineWidth = Math.max(2, Math.round(3 * dpr));
    ctx.strokeRect(cx, cy, cw, ch);

    // The pupils, joined by the eye line in the colour of the roll check.
    const p = g.pupils;
    if (Array.isArray(p) && p.length === 2) {
      const [a, b] = p.map((q) => [px(q.x), py(q.y)]);
      ctx.strokeStyle = COLOURS[this.status("roll")] ?? COLOURS[""];
      ctx.lineWidth = line;
      ctx.beginPath();
      ctx.moveTo(a[0], a[1]);
      ctx.lineTo(b[0], b[1]);
      ctx.stroke();
      const r = Math.max(3, 4 * dpr);
      for (const [x, y] of [a, b]) {
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fillStyle = "rgba(255, 255, 255, 0.9)";
        ctx.fill();
        ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
        ctx.stroke();
      }
    }

    // Labels on the bands, inside the crop window at its right edge as
    // seen on screen (or the picture's edge, where the window sticks out).
    const fontPx = Math.round(13 * dpr);
    ctx.font = `600 ${fontPx}px "Noto Sans CJK SC", "Source Han Sans SC", system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    const pad = 6 * dpr;
    const l = Math.max(cx, 0); // the crop's sides, where they are on the canvas
    const r = Math.min(cx + cw, W);
    if (crown) this.label(this.labels.crown, l, r, (crown[0] + crown[1]) / 2, pad);
    if (eyes) this.label(this.labels.eyes, l, r, (eyes[0] + eyes[1]) / 2, pad);

    this.guides = true;
    this.crop = [cx, cy, cw, ch].map((v) => Math.round(v * 100) / 100);
    this.cropColour = colour;
  }

  // label draws text right-aligned against the crop window's edge that is
  // on the right of the screen, readable whether or not the stage is
  // mirrored.
  label(text, left, right, y, pad) {
    if (!text) return;
    const ctx = this.ctx;
    ctx.save();
    if (this.mirrored) {
      // The screen's right is the canvas's left; flip the text back.
      ctx.translate(left + pad, y);
      ctx.scale(-1, 1);
    } else {
      ctx.translate(right - pad, y);
    }
    ctx.textAlign = "right";
    ctx.lineWidth = Math.max(2, 3 * (window.devicePixelRatio || 1));
    ctx.strokeStyle = "rgba(0, 0, 0, 0.65)";
    ctx.strokeText(text, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, 0, 0);
    ctx.restore();
  }
}
