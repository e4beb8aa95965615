// The pages' live connection: the reference graphql-transport-ws client (graphql-ws, vendored
// unchanged in web/vendor/graphql-ws) with what Bipa needs on top:
//
// - connection_init carries {authorization: "Bearer <token>"}; a 4403 close (bad or revoked
//   token) is final: no retry, status "forbidden", and the page sends the visitor to sign in;
// - every other loss is retried for ever, with a capped jittered back-off that the browser's
//   `online` event cuts short;
// - each (re)subscription sends *fresh* variables: graphql-ws re-sends the same payload
//   object after a reconnect and serialises it at each send, so `variables` is a getter over
//   the caller's function. `sessionEvents` thus resumes with afterSequence = the last
//   sequence seen, and no event is lost or shown twice;
// - a ping every 10 s, and a pong missing for 5 s drops the socket (a dead mobile connection
//   is otherwise noticed only minutes later);
// - a subscription the server ends (complete, or an error no retry can fix is not) is
//   started again when asked (`retry: true`).

import { CloseCode, createClient } from "../vendor/graphql-ws/client.js";

const RETRY_DELAYS_MS = [300, 1000, 2000, 4000, 8000, 15000];
// Error codes that no retry can fix: the subscription ends for good.
const FATAL_CODES = new Set(["NOT_FOUND", "BAD_USER_INPUT", "FORBIDDEN", "UNAUTHENTICATED"]);
const RESUBSCRIBE_MS = 1000;

export function defaultUrl(path = "/graphql") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

function isCloseEvent(value) {
  return value !== null && typeof value === "object" && "code" in value && "reason" in value;
}

function waitOrOnline(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

/**
 * @param {object} options
 * @param {string} [options.url] websocket URL (default: this origin's /graphql)
 * @param {() => object} options.connectionParams payload of connection_init, read at each connect
 * @param {(status: string) => void} [options.onStatus]
 *   "connecting" | "connected" | "reconnecting" | "forbidden" | "closed"
 * @param {() => void} [options.onReconnected] after a reconnect (not the first connect)
 * @param {() => void} [options.onForbidden] the server closed with 4403
 * @param {number} [options.keepAlive] ms between our pings (0: none)
 * @param {number} [options.pongTimeout] ms to wait for the pong
 */
export function createLiveClient(options) {
  const { onStatus = () => {}, onReconnected = () => {}, onForbidden = () => {} } = options;
  const pongTimeout = options.pongTimeout ?? 5000;
  let status = "idle";
  let active = 0;
  let forbidden = false;
  let everConnected = false;
  let pongTimer = 0;
  const setStatus = (next) => {
    if (next !== status) {
      status = next;
      onStatus(next);
    }
  };

  const client = createClient({
    url: options.url || defaultUrl(),
    connectionParams: options.connectionParams,
    lazy: true,
    keepAlive: options.keepAlive ?? 10000,
    retryAttempts: Infinity,
    retryWait: (retries) => {
      const base = RETRY_DELAYS_MS[Math.min(retries, RETRY_DELAYS_MS.length - 1)];
      return waitOrOnline(Math.round(base * (0.75 + Math.random() * 0.5)));
    },
    // The library retries close events only by default; a browser reports a failed connect
    // as an `error` Event first, which must be retried too. 4403 never is.
    shouldRetry: (errOrClose) => !forbidden && !(isCloseEvent(errOrClose) && errOrClose.code === CloseCode.Forbidden),
    on: {
      connecting: (isRetry) => setStatus(isRetry || everConnected ? "reconnecting" : "connecting"),
      connected: () => {
        const again = everConnected;
        everConnected = true;
        setStatus("connected");
        if (again) onReconnected();
      },
      ping: (received) => {
        if (received || !pongTimeout) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => client.terminate(), pongTimeout);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
      closed: (event) => {
        clearTimeout(pongTimer);
        if (isCloseEvent(event) && event.code === CloseCode.Forbidden) {
          forbidden = true;
          setStatus("forbidden");
          onForbidden();
          return;
        }
        if (!forbidden) setStatus(active > 0 ? "reconnecting" : "closed");
      },
    },
  });

  /**
   * Starts an operation; returns a function that stops it.
   * @param {{query: string, variables?: object | (() => object), retry?: boolean}} request
   *   variables may be a function, called at every (re)subscription.
   * @param {{next?: (payload: object) => void, error?: (errors: object[]) => void,
   *          complete?: () => void}} sink
   */
  function subscribe(request, sink) {
    let stopped = false;
    let dispose = () => {};
    let timer = 0;
    const payload = { query: request.query };
    Object.defineProperty(payload, "variables", {
      enumerable: true,
      get: () => (typeof request.variables === "function" ? request.variables() : request.variables || {}),
    });

    const again = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!stopped && !forbidden) start();
      }, RESUBSCRIBE_MS);
    };

    function start() {
      let counted = true;
      active += 1;
      const release = () => {
        if (counted) active -= 1;
        counted = false;
      };
      dispose = client.subscribe(payload, {
        next: (value) => {
          if (!stopped && sink.next) sink.next(value);
        },
        error: (err) => {
          release();
          if (stopped || forbidden) return;
          if (isCloseEvent(err) || err instanceof Event) {
            if (sink.error) sink.error([{ message: "conexão em tempo real encerrada" }]);
            return;
          }
          const errors = Array.isArray(err) ? err : [err];
          if (sink.error) sink.error(errors);
          const fatal = errors.some((e) => FATAL_CODES.has(e?.extensions?.code));
          if (request.retry !== false && !fatal) again();
        },
        complete: () => {
          release();
          if (stopped) return;
          if (request.retry) again();
          else if (sink.complete) sink.complete();
        },
      });
    }

    start();
    return () => {
      stopped = true;
      clearTimeout(timer);
      dispose();
    };
  }

  return {
    subscribe,
    get status() {
      return status;
    },
    /** Drops the socket at once (as a missing pong does); the client reconnects. */
    terminate: () => client.terminate(),
    dispose: () => {
      setStatus("closed");
      return client.dispose();
    },
  };
}
