// The room's WebSocket (rooms/PROTOCOL.md): JSON messages, reconnect with jittered backoff
// (backoff.js). The FINAL close codes (codes.js) are decisions of the server (no session,
// removed, ended): no retry. BUSY (4503) comes after a `busy` message: its hint widens the wait.
import { CLOSE, FINAL } from "./codes.js";
import { retryDelay } from "./backoff.js";

const PING_EVERY = 20000;
const PONG_WITHIN = 10000;

export class Signal {
  constructor(path, { onMessage, onOpen, onDown, onFinal }) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${location.host}${path}`;
    Object.assign(this, { onMessage, onOpen, onDown, onFinal });
    this.attempt = 0;
    this.stopped = false;
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.keepAlive();
      this.onOpen?.();
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "pong") clearTimeout(this.pongTimer);
      else if (message.type === "busy") this.hint = message.retry_after;
      else this.onMessage(message);
    };
    ws.onclose = (event) => {
      clearInterval(this.pingTimer);
      clearTimeout(this.pongTimer);
      if (ws !== this.ws || this.stopped) return;
      if (FINAL.has(event.code)) {
        this.stopped = true;
        this.onFinal?.(event.code);
        return;
      }
      const hint = event.code === CLOSE.BUSY ? Number(this.hint) || 1 : 0;
      this.hint = 0;
      const delay = retryDelay(this.attempt, { hint });
      this.attempt += 1;
      this.onDown?.(this.attempt, delay);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }

  // A silent dead link (phone changed network) only shows as a missing pong.
  keepAlive() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.ws.close(), PONG_WITHIN);
    }, PING_EVERY);
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  // Reconnect at once (the user pressed "Try again").
  retryNow() {
    clearTimeout(this.retryTimer);
    if (!this.open) {
      this.stopped = false;
      this.connect();
    }
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.ws?.close(CLOSE.NORMAL);
  }
}
