// The connection to the station: one WebSocket to /ws, reopened with
// exponential backoff (0.5 s doubling to 8 s, with jitter) whenever it drops.
// Binary messages are JPEG frames; text messages are JSON events.

const MIN_DELAY = 500;
const MAX_DELAY = 8000;

export class StationSocket {
  // handlers: open(), close(delayMs), message(obj), frame(arrayBuffer)
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.failures = 0;
    this.timer = 0;
    this.opens = 0;
  }

  start() {
    this.connect();
  }

  connect() {
    this.timer = 0;
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.opens++;
      this.handlers.open();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        this.handlers.frame(ev.data);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return; // the server only sends JSON; ignore anything else
      }
      this.handlers.message(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.failures);
      const delay = Math.round(base * (0.5 + Math.random() / 2));
      this.failures++;
      this.timer = setTimeout(() => this.connect(), delay);
      this.handlers.close(delay);
    };
  }

  // send sends obj as JSON if the socket is open, and reports whether it did.
  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }
}
