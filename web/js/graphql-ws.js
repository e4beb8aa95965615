// A small client for the graphql-transport-ws protocol (the `graphql-ws` library's protocol):
// https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
//
// - connection_init carries {authorization: "Bearer <token>"}; the server answers
//   connection_ack, or closes with 4403 when the token is bad (then we stop and report it);
// - subscribe / next / error / complete per operation id;
// - ping/pong both ways: we answer the server's pings and send our own, and a missing pong
//   drops the socket (a dead mobile connection is otherwise noticed only minutes later);
// - reconnects with a capped, jittered back-off and re-sends every active subscription with
//   fresh variables (a function of the caller), so `sessionEvents` resumes with
//   `afterSequence` = the last sequence seen and no event is lost or repeated.

export const PROTOCOL = "graphql-transport-ws";

const CLOSE_FORBIDDEN = 4403;
const CLOSE_SUBPROTOCOL = 4406;
const CLOSE_PING_TIMEOUT = 4000;
// Error codes that no retry can fix: the subscription ends for good.
const FATAL_CODES = new Set(["NOT_FOUND", "BAD_USER_INPUT", "FORBIDDEN", "UNAUTHENTICATED"]);

export function defaultUrl(path = "/graphql") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class GraphQLWsClient {
  /**
   * @param {object} options
   * @param {string} [options.url] websocket URL (default: this origin's /graphql)
   * @param {() => object} options.connectionParams payload of connection_init
   * @param {(status: string) => void} [options.onStatus]
   *   "connecting" | "connected" | "reconnecting" | "forbidden" | "closed"
   * @param {() => void} [options.onReconnected] after a reconnect (not the first connect)
   * @param {number[]} [options.retryDelays] ms, the last one repeats
   * @param {number} [options.pingInterval] ms between our pings
   * @param {number} [options.pongTimeout] ms to wait for the pong
   * @param {number} [options.ackTimeout] ms to wait for connection_ack
   */
  constructor(options) {
    this.url = options.url || defaultUrl();
    this.connectionParams = options.connectionParams || (() => ({}));
    this.onStatus = options.onStatus || (() => {});
    this.onReconnected = options.onReconnected || (() => {});
    this.retryDelays = options.retryDelays || [300, 1000, 2000, 4000, 8000, 15000];
    this.pingInterval = options.pingInterval ?? 10000;
    this.pongTimeout = options.pongTimeout ?? 5000;
    this.ackTimeout = options.ackTimeout ?? 10000;
    this.ws = null;
    this.acked = false;
    this.everConnected = false;
    this.attempt = 0;
    this.nextId = 1;
    this.subs = new Map();
    this.timers = { retry: 0, ping: 0, pong: 0, ack: 0 };
    this.disposed = false;
    this.forbidden = false;
    this.status = "idle";
    this._onOnline = () => {
      if (!this.ws && !this.disposed && !this.forbidden) this._connectNow();
    };
    window.addEventListener("online", this._onOnline);
  }

  /**
   * Starts an operation; returns a function that stops it.
   * @param {{query: string, variables?: object | (() => object), retry?: boolean}} request
   *   variables may be a function, called at every (re)subscription.
   * @param {{next?: (payload: object) => void, error?: (errors: object[]) => void,
   *          complete?: () => void}} sink
   */
  subscribe(request, sink) {
    const id = String(this.nextId++);
    const sub = { id, request, sink, active: true, retryTimer: 0 };
    this.subs.set(id, sub);
    if (this.ws && this.acked) this._sendSubscribe(sub);
    else this._ensureConnected();
    return () => {
      sub.active = false;
      clearTimeout(sub.retryTimer);
      this.subs.delete(id);
      if (this.ws && this.acked && this.ws.readyState === WebSocket.OPEN) {
        this._send({ id, type: "complete" });
      }
    };
  }

  dispose() {
    this.disposed = true;
    window.removeEventListener("online", this._onOnline);
    for (const sub of this.subs.values()) clearTimeout(sub.retryTimer);
    this.subs.clear();
    this._clearTimers();
    if (this.ws) {
      const ws = this.ws;
      this._detach(ws);
      ws.close(1000, "bye");
    }
    this._setStatus("closed");
  }

  // ---- internals ------------------------------------------------------------------------

  _setStatus(status) {
    if (status !== this.status) {
      this.status = status;
      this.onStatus(status);
    }
  }

  _ensureConnected() {
    if (this.ws || this.disposed || this.forbidden || this.timers.retry) return;
    this._connectNow();
  }

  _connectNow() {
    clearTimeout(this.timers.retry);
    this.timers.retry = 0;
    if (this.ws || this.disposed || this.forbidden) return;
    this._setStatus(this.everConnected || this.attempt > 0 ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url, PROTOCOL);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.acked = false;
    ws.onopen = () => {
      if (ws.protocol && ws.protocol !== PROTOCOL) {
        ws.close(CLOSE_SUBPROTOCOL, "unsupported subprotocol");
        return;
      }
      this._send({ type: "connection_init", payload: this.connectionParams() });
      this.timers.ack = setTimeout(() => this._drop(ws, 4408, "no connection_ack"), this.ackTimeout);
    };
    ws.onmessage = (event) => this._onMessage(ws, event);
    ws.onclose = (event) => this._onClose(ws, event.code);
    ws.onerror = () => {
      /* followed by close */
    };
  }

  _onMessage(ws, event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      this._drop(ws, 4400, "invalid message");
      return;
    }
    switch (msg.type) {
      case "connection_ack": {
        clearTimeout(this.timers.ack);
        this.acked = true;
        const reconnected = this.everConnected;
        this.everConnected = true;
        this.attempt = 0;
        this._setStatus("connected");
        this._startPing(ws);
        for (const sub of this.subs.values()) if (sub.active) this._sendSubscribe(sub);
        if (reconnected) this.onReconnected();
        break;
      }
      case "ping":
        this._send({ type: "pong", payload: msg.payload });
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        this.timers.pong = 0;
        break;
      case "next": {
        const sub = this.subs.get(msg.id);
        if (sub && sub.active && sub.sink.next) sub.sink.next(msg.payload);
        break;
      }
      case "error": {
        const sub = this.subs.get(msg.id);
        if (!sub) break;
        const errors = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
        if (sub.sink.error) sub.sink.error(errors);
        const fatal = errors.some((e) => FATAL_CODES.has(e?.extensions?.code));
        if (sub.request.retry !== false && !fatal) this._retrySub(sub);
        else this.subs.delete(msg.id);
        break;
      }
      case "complete": {
        const sub = this.subs.get(msg.id);
        if (!sub) break;
        // A subscription that the server ends is restarted unless it asked not to be.
        if (sub.request.retry) this._retrySub(sub);
        else {
          this.subs.delete(msg.id);
          if (sub.sink.complete) sub.sink.complete();
        }
        break;
      }
      default:
        break;
    }
  }

  _retrySub(sub) {
    clearTimeout(sub.retryTimer);
    sub.retryTimer = setTimeout(() => {
      if (sub.active && this.ws && this.acked) this._sendSubscribe(sub);
    }, 1000);
  }

  _sendSubscribe(sub) {
    const vars =
      typeof sub.request.variables === "function"
        ? sub.request.variables()
        : sub.request.variables || {};
    this._send({ id: sub.id, type: "subscribe", payload: { query: sub.request.query, variables: vars } });
  }

  _send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  _startPing(ws) {
    clearInterval(this.timers.ping);
    if (!this.pingInterval) return;
    this.timers.ping = setInterval(() => {
      if (ws !== this.ws || this.timers.pong) return;
      this._send({ type: "ping" });
      this.timers.pong = setTimeout(() => this._drop(ws, CLOSE_PING_TIMEOUT, "no pong"), this.pongTimeout);
    }, this.pingInterval);
  }

  _clearTimers() {
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.ack);
    this.timers = { retry: 0, ping: 0, pong: 0, ack: 0 };
  }

  _detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  // Gives up on a socket at once: a half-dead one can take minutes to report its close.
  _drop(ws, code, reason) {
    if (ws !== this.ws) return;
    this._detach(ws);
    try {
      ws.close(code, reason);
    } catch {
      /* already closing */
    }
    this._onClose(ws, code);
  }

  _onClose(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.acked = false;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.ack);
    this.timers.ping = this.timers.pong = this.timers.ack = 0;
    if (this.disposed) return;
    if (code === CLOSE_FORBIDDEN) {
      this.forbidden = true;
      this._setStatus("forbidden");
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.disposed || this.forbidden || this.subs.size === 0) {
      if (!this.disposed && !this.forbidden) this._setStatus("closed");
      return;
    }
    this._setStatus("reconnecting");
    const base = this.retryDelays[Math.min(this.attempt, this.retryDelays.length - 1)];
    this.attempt += 1;
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this._connectNow(), delay);
  }
}
