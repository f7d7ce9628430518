// The live preview: JPEG frames drawn on a canvas as fast as they decode.
//
// Decoding is asynchronous (createImageBitmap). At most one decode runs at a
// time, and at most one frame waits behind it: a newer frame replaces the
// waiting one, so a slow machine shows fewer frames but never lags behind.

export class Preview {
  // onSize(width, height) is called when the drawn size changes;
  // onPaint(count) after every painted frame.
  constructor(canvas, { onSize, onPaint }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.onSize = onSize;
    this.onPaint = onPaint;
    this.rotation = 0; // degrees clockwise for the frames that follow
    this.busy = false;
    this.pending = null;
    this.painted = 0;
    this.skipped = 0;
    this.errors = 0;
  }

  // setRotation applies to frames pushed from now on.
  setRotation(deg) {
    this.rotation = [0, 90, 180, 270].includes(deg) ? deg : 0;
  }

  // push queues a frame (an ArrayBuffer holding a JPEG).
  push(buf) {
    const item = { buf, rotation: this.rotation };
    if (this.busy) {
      if (this.pending) this.skipped++;
      this.pending = item;
      return;
    }
    this.decode(item);
  }

  async decode(item) {
    this.busy = true;
    let bmp = null;
    try {
      bmp = await createImageBitmap(new Blob([item.buf], { type: "image/jpeg" }));
      this.draw(bmp, item.rotation);
      this.painted++;
      this.onPaint(this.painted);
    } catch {
      this.errors++; // a corrupt frame: skip it
    } finally {
      bmp?.close();
      this.busy = false;
      const next = this.pending;
      this.pending = null;
      if (next) this.decode(next);
    }
  }

  // draw paints bmp turned clockwise by rot degrees; the canvas takes the
  // turned size.
  draw(bmp, rot) {
    const turned = rot === 90 || rot === 270;
    const w = turned ? bmp.height : bmp.width;
    const h = turned ? bmp.width : bmp.height;
    const c = this.canvas;
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
      this.onSize(w, h);
    }
    const ctx = this.ctx;
    switch (rot) {
      case 90:
        ctx.setTransform(0, 1, -1, 0, w, 0);
        break;
      case 180:
        ctx.setTransform(-1, 0, 0, -1, w, h);
        break;
      case 270:
        ctx.setTransform(0, -1, 1, 0, 0, h);
        break;
      default:
        ctx.setTransform(1, 0, 0, 1, 0, 0);
    }
    ctx.drawImage(bmp, 0, 0);
  }
}
