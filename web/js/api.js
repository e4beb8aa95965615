// GraphQL over HTTP (JSON and multipart uploads), the stored token, and the live client.

import { createLiveClient } from "./live.js";

const TOKEN_KEY = "bipa.token";
const USER_KEY = "bipa.user";
const ENDPOINT = "/graphql";

/** The request never reached the server or got no usable answer: safe to retry later. */
export class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = "NetworkError";
  }
}

/** The token is missing or no longer valid. */
export class AuthError extends Error {
  constructor(message = "token inválido ou ausente") {
    super(message);
    this.name = "AuthError";
  }
}

/** A GraphQL `errors` entry: a bug or a malformed request (expected failures are data). */
export class GraphQLRequestError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.name = "GraphQLRequestError";
    this.errors = errors;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function getUser() {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveAuth(token, user) {
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function clearAuth() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

export function signInUrl() {
  const here = location.pathname + location.search;
  return "/entrar.html" + (here && here !== "/" ? "?next=" + encodeURIComponent(here) : "");
}

/** Sends the visitor to the sign-in page when there is no token; returns the token. */
export function requireToken() {
  const token = getToken();
  if (!token) location.replace(signInUrl());
  return token;
}

export function signOut() {
  clearAuth();
  location.assign("/entrar.html");
}

function onAuthFailure() {
  clearAuth();
  location.replace(signInUrl());
}

async function post(body, headers, token) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { ...headers, authorization: `Bearer ${token}` },
      body,
      cache: "no-store",
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new NetworkError("sem conexão com o servidor");
  }
  // A proxy's 502/503/504 or a restarting server: the request may be retried.
  if (response.status >= 500 || response.status === 408 || response.status === 429) {
    throw new NetworkError(`servidor indisponível (HTTP ${response.status})`);
  }
  let payload;
  try {
    payload = await response.json();
  } catch {
    throw new NetworkError(`resposta inválida do servidor (HTTP ${response.status})`);
  }
  const errors = payload.errors || [];
  if (errors.some((e) => e?.extensions?.code === "UNAUTHENTICATED")) throw new AuthError();
  if (errors.length && !payload.data) throw new GraphQLRequestError(errors);
  if (errors.length) throw new GraphQLRequestError(errors);
  return payload.data;
}

/**
 * One GraphQL operation over HTTP.
 * @param {{token?: string, redirectOnAuth?: boolean}} [options]
 */
export async function gql(query, variables = {}, options = {}) {
  const token = options.token ?? getToken();
  try {
    return await post(
      JSON.stringify({ query, variables }),
      { "content-type": "application/json", accept: "application/json" },
      token,
    );
  } catch (err) {
    if (err instanceof AuthError && options.redirectOnAuth !== false) onAuthFailure();
    throw err;
  }
}

/**
 * A GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec):
 * form fields `operations` and `map`, then one form field per file ("0", "1", ...).
 * @param {Record<string, Blob>} files variable path -> file, e.g. {"input.image": blob}
 */
export async function gqlUpload(query, variables, files, options = {}) {
  const vars = structuredClone(variables);
  const map = {};
  const form = new FormData();
  const entries = Object.entries(files);
  entries.forEach(([path, _blob], index) => {
    map[String(index)] = [`variables.${path}`];
    // Put null at the file's place in the variables, as the spec asks.
    const keys = path.split(".");
    let target = vars;
    for (const key of keys.slice(0, -1)) target = target[key];
    target[keys[keys.length - 1]] = null;
  });
  form.append("operations", JSON.stringify({ query, variables: vars }));
  form.append("map", JSON.stringify(map));
  entries.forEach(([_path, blob], index) => {
    const type = blob.type || "image/jpeg";
    const ext = type.includes("png") ? "png" : "jpg";
    // A File keeps its name (a manifest's .csv or .xlsx); a photo from a canvas has none.
    form.append(String(index), blob, blob.name || `scan.${ext}`);
  });
  const token = options.token ?? getToken();
  try {
    return await post(form, { accept: "application/json" }, token);
  } catch (err) {
    if (err instanceof AuthError && options.redirectOnAuth !== false) onAuthFailure();
    throw err;
  }
}

/** The page's live connection (graphql-transport-ws), authenticated with the stored token. */
export function liveClient({ onStatus, onReconnected } = {}) {
  return createLiveClient({
    connectionParams: () => ({ authorization: `Bearer ${getToken()}` }),
    onStatus,
    onReconnected,
    onForbidden: onAuthFailure,
  });
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
