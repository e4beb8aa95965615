// The sessions list, kept live by `mySessionEvents`: status and progress change in place,
// new sessions appear at the top, without a reload.

import { GraphQLRequestError, NetworkError, gql, getUser, liveClient, newIdempotencyKey, requireToken } from "./api.js";
import { errorText } from "./errors.js";
import { SESSION_STATUS, h, int, percent, plural, pluralWord, statusBadge, when } from "./format.js";
import { renderTopbar, setLiveStatus, toast } from "./layout.js";
import { CREATE_SESSION, MY_SESSION_EVENTS, REUSE_SESSION, SESSIONS, SESSION_CARD_ONE } from "./queries.js";

const PAGE = 50;
const STATUS_BY_ACTION = {
  "session.created": "OPEN",
  "session.started": "ACTIVE",
  "session.paused": "PAUSED",
  "session.resumed": "ACTIVE",
  "session.completed": "COMPLETED",
  "session.archived": "ARCHIVED",
};

const token = requireToken();
const list = document.getElementById("sessions");
const empty = document.getElementById("sessions-empty");
const more = document.getElementById("sessions-more");
const summary = document.getElementById("sessions-summary");
const errorBox = document.getElementById("sessions-error");
const filter = document.getElementById("status-filter");

/** id -> session (as rendered) */
const sessions = new Map();
const refetching = new Map();
let endCursor = null;
let totalCount = 0;

function progressText(p) {
  return `${int(p.delivered + p.failed)} de ${int(p.total)} finalizados · ${percent(p.percent)}`;
}

function card(s) {
  const p = s.progress;
  return h(
    "li",
    { class: "session-card", dataset: { sessionId: s.id, status: s.status } },
    h(
      "a",
      { class: "session-link", href: `/sessao.html?id=${encodeURIComponent(s.id)}` },
      h("div", { class: "session-card-head" }, h("h2", { class: "session-name" }, s.name), statusBadge(s.status)),
      h(
        "div",
        {
          class: "progress",
          role: "progressbar",
          "aria-valuemin": 0,
          "aria-valuemax": 100,
          "aria-valuenow": Math.round(p.percent),
          "aria-label": `Progresso de ${s.name}`,
        },
        h("div", { class: "progress-bar progress-delivered", style: { width: `${p.total ? (p.delivered / p.total) * 100 : 0}%` } }),
        h("div", { class: "progress-bar progress-failed", style: { width: `${p.total ? (p.failed / p.total) * 100 : 0}%` } }),
      ),
      h(
        "div",
        { class: "session-card-foot" },
        h("span", { class: "progress-text" }, progressText(p)),
        h(
          "span",
          { class: "counts" },
          h("span", { class: "count count-pending" }, plural(p.pending, "pendente")),
          h("span", { class: "count count-picked" }, plural(p.pickedUp, "coletado")),
          h("span", { class: "count count-delivered" }, plural(p.delivered, "entregue")),
          h("span", { class: "count count-failed" }, plural(p.failed, "falha")),
        ),
      ),
      h("div", { class: "session-meta muted" }, `${s.owner ? s.owner.name : "—"} · criada em ${when(s.createdAt)}`),
    ),
    s.status === "OPEN" && canCreate()
      ? h(
          "button",
          { type: "button", class: "btn btn-small session-reuse", onclick: () => reuse(s) },
          "Continuar nesta sessão",
        )
      : null,
  );
}

function canCreate() {
  const user = getUser();
  return Boolean(user && user.role !== "DELIVERER");
}

// Back to an OPEN session instead of creating another one for the same round.
async function reuse(s) {
  try {
    const result = (await gql(REUSE_SESSION, { sessionId: s.id, key: newIdempotencyKey() })).reuseSession;
    if (result.__typename === "SessionSuccess") {
      location.assign(`/sessao.html?id=${encodeURIComponent(s.id)}`);
    } else {
      toast(errorText(result), "error");
    }
  } catch (err) {
    toast(err instanceof GraphQLRequestError ? err.message : "Sem conexão; tente de novo.", "error");
  }
}

function matchesFilter(s) {
  return !filter.value || s.status === filter.value;
}

function render() {
  const shown = [...sessions.values()]
    .filter(matchesFilter)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  list.replaceChildren(...shown.map(card));
  empty.hidden = shown.length > 0;
  const label = filter.value ? ` · filtro: ${SESSION_STATUS[filter.value].toLowerCase()}` : "";
  const count = more.hidden ? int(shown.length) : `${int(shown.length)} de ${int(Math.max(totalCount, shown.length))}`;
  summary.textContent = `${count} ${pluralWord(shown.length, "sessão", "sessões")}${label}`;
}

function upsert(s) {
  const known = sessions.get(s.id);
  if (known && known.lastSequence > s.lastSequence) return; // an older answer than the live state
  if (!known) totalCount += 1;
  sessions.set(s.id, { ...known, ...s });
}

async function load(append = false) {
  errorBox.hidden = true;
  try {
    const data = await gql(SESSIONS, { status: filter.value || null, first: PAGE, after: append ? endCursor : null });
    const before = new Map(sessions);
    if (!append) sessions.clear();
    for (const { node } of data.sessions.edges) {
      // A live event may have overtaken this answer: keep the newer state.
      const seen = before.get(node.id);
      sessions.set(node.id, seen && seen.lastSequence > node.lastSequence ? seen : node);
    }
    totalCount = data.sessions.totalCount;
    endCursor = data.sessions.pageInfo.endCursor;
    more.hidden = !data.sessions.pageInfo.hasNextPage;
    render();
  } catch (err) {
    errorBox.textContent =
      err instanceof NetworkError ? "Sem conexão com o servidor. Tentando de novo em instantes…" : `Erro ao carregar: ${err.message}`;
    errorBox.hidden = false;
    if (err instanceof NetworkError) setTimeout(() => load(append), 3000);
  }
}

// A session's row again (name, status, owner) after an event; coalesced per session.
function refetch(id) {
  if (refetching.has(id)) return;
  refetching.set(
    id,
    setTimeout(async () => {
      refetching.delete(id);
      try {
        const data = await gql(SESSION_CARD_ONE, { id });
        if (data.session) {
          upsert(data.session);
          render();
        }
      } catch {
        /* the next event or reconnect brings it */
      }
    }, 250),
  );
}

function onEvent(ev) {
  const known = sessions.get(ev.sessionId);
  if (!known) {
    refetch(ev.sessionId);
    return;
  }
  if (ev.sequence <= known.lastSequence) return;
  known.lastSequence = ev.sequence;
  known.progress = ev.progress;
  if (STATUS_BY_ACTION[ev.action]) known.status = STATUS_BY_ACTION[ev.action];
  render();
  flash(ev.sessionId);
  if (ev.action.startsWith("session.")) refetch(ev.sessionId);
}

function flash(id) {
  const el = list.querySelector(`[data-session-id="${CSS.escape(id)}"]`);
  if (!el) return;
  el.classList.remove("flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("flash");
}

function startLive() {
  const client = liveClient({ onStatus: setLiveStatus, onReconnected: () => load() });
  window.bipa = { ...window.bipa, live: client }; // a handle for support and the browser tests
  client.subscribe(
    { query: MY_SESSION_EVENTS, retry: true },
    {
      next: (payload) => {
        if (payload.data && payload.data.mySessionEvents) onEvent(payload.data.mySessionEvents);
      },
      error: (errors) => toast(`Tempo real: ${errors.map((e) => e.message).join("; ")}`, "error"),
    },
  );
}

function setUpCreate() {
  const user = getUser();
  const form = document.getElementById("new-session");
  if (!user || user.role === "DELIVERER") return;
  form.hidden = false;
  const input = document.getElementById("new-session-name");
  let key = newIdempotencyKey();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await gql(CREATE_SESSION, { name, key });
      const result = data.createSession;
      if (result.__typename === "SessionSuccess") {
        upsert(result.session);
        render();
        input.value = "";
        key = newIdempotencyKey();
        toast(`Sessão “${result.session.name}” criada.`, "ok");
      } else {
        toast(errorText(result), "error");
      }
    } catch (err) {
      // The same key is kept: a retry after a network error cannot create it twice.
      toast(err instanceof GraphQLRequestError ? err.message : "Sem conexão; tente de novo.", "error");
    } finally {
      button.disabled = false;
    }
  });
}

if (token) {
  renderTopbar("sessions");
  setUpCreate();
  filter.addEventListener("change", () => load());
  more.addEventListener("click", () => load(true));
  startLive();
  load();
}
