// The auto-capture countdown over the preview: a ring that empties as the
// station counts down, with the whole seconds left in its middle. It shows
// while the countdown runs, disappears when it is cancelled, and the
// preview flashes once when it reaches zero.
//
// The station sends a countdown message with every analysed frame while it
// runs; if they stop coming (a lost message, a dropped socket) the ring
// hides by itself after LOST_MS rather than hang on a stale number.

const LOST_MS = 700;
const RADIUS = 44; // of the arc, in the SVG's 100x100 viewBox
const CIRCUMFERENCE = 2 * Math.PI * RADIUS;

export class CountdownRing {
  // el: the ring's container (holding .countdown-arc and .countdown-num);
  // flash: the element that flashes at zero.
  constructor(el, flash) {
    this.el = el;
    this.arc = el.querySelector(".countdown-arc");
    this.num = el.querySelector(".countdown-num");
    this.flashEl = flash;
    this.arc.setAttribute("stroke-dasharray", CIRCUMFERENCE.toFixed(2));
    this.cd = null;
    this.at = 0;
    this.flashes = 0;
    this.shownNumber = "";
    this.hide();
  }

  // update takes the data of a "countdown" message.
  update(cd, now = performance.now()) {
    this.cd = cd;
    this.at = now;
    switch (cd.state) {
      case "running":
        this.show(cd);
        break;
      case "done":
        this.hide();
        this.flash();
        break;
      default: // cancelled, or a state this console does not know
        this.hide();
    }
  }

  // cancel hides the ring (the framing is no longer steady).
  cancel() {
    if (this.cd?.state === "running") this.cd = { ...this.cd, state: "cancelled" };
    this.hide();
  }

  // tick hides a ring whose updates stopped coming.
  tick(now = performance.now()) {
    if (this.cd?.state === "running" && now - this.at > LOST_MS) this.cancel();
  }

  show(cd) {
    const total = cd.total_ms > 0 ? cd.total_ms : 1;
    const left = Math.max(0, Math.min(1, cd.remaining_ms / total));
    const n = String(Math.max(1, Math.ceil(cd.remaining_ms / 1000)));
    if (this.shownNumber !== n) {
      this.shownNumber = n;
      this.num.textContent = n;
    }
    // The arc empties clockwise from the top as time runs out.
    this.arc.setAttribute("stroke-dashoffset", (CIRCUMFERENCE * (1 - left)).toFixed(2));
    if (this.el.hidden) this.el.hidden = false;
  }

  hide() {
    if (!this.el.hidden) this.el.hidden = true;
    this.shownNumber = "";
  }

  flash() {
    this.flashes++;
    const f = this.flashEl;
    f.classList.remove("on");
    void f.offsetWidth; // restart the animation
    f.classList.add("on");
  }

  // state is what window.kiosk exposes.
  state() {
    return {
      state: this.cd?.state ?? "",
      remainingMs: this.cd?.remaining_ms ?? 0,
      shown: !this.el.hidden,
      number: this.el.hidden ? "" : this.shownNumber,
      flashes: this.flashes,
    };
  }
}
