// One session, live: progress bar, counters, packages (filtered by status and deliverer),
// deliverers and their earnings, the event feed and, once completed, the financial snapshot.
//
// `sessionEvents` drives it: each event carries the new progress (shown at once) and triggers
// a coalesced re-read of the rest. On a reconnect the subscription resumes with
// afterSequence = the last sequence seen, so the feed has no gaps and no repeats.

import { NetworkError, getUser, gql, liveClient, requireToken } from "./api.js";
import { setUpActions } from "./session-actions.js";
import { setUpJobs } from "./session-jobs.js";
import {
  clock,
  deliveryBadge,
  describeEvent,
  h,
  int,
  money,
  percent,
  plural,
  statusBadge,
  when,
} from "./format.js";
import { renderTopbar, setLiveStatus, toast } from "./layout.js";
import { ALL_PACKAGES, MORE_PACKAGES, PACKAGE_BY_CODE, SESSION_EVENTS, SESSION_PAGE } from "./queries.js";

const PAGE = 200;
const FEED_HISTORY = 50; // past events shown when the page opens
const FEED_MAX = 300;
const STATUS_BY_ACTION = {
  "session.started": "ACTIVE",
  "session.paused": "PAUSED",
  "session.resumed": "ACTIVE",
  "session.completed": "COMPLETED",
  "session.archived": "ARCHIVED",
};

const $ = (id) => document.getElementById(id);
const token = requireToken();
const sessionId = new URLSearchParams(location.search).get("id");

let session = null;
let appliedSeq = -1; // newest sequence whose progress/status is on screen
let feedSeq = null; // newest sequence in the feed (the subscription resumes after it)
let packagesCursor = null;
let packagesLoaded = 0;
let refreshTimer = 0;
let refreshing = false;
let refreshAgain = false;
const delivererNames = {};
/** Ids of the packages ticked for assignment; kept across the live re-renders. */
const selected = new Set();
let searchTerm = "";
let actions = null;

/** Someone who may run the session from this page (the server has the last word). */
function canManage() {
  const user = getUser();
  return Boolean(user && user.role !== "DELIVERER");
}

// ---- rendering -----------------------------------------------------------------------------

function renderHeader() {
  document.title = `${session.name} — Bipa`;
  $("session-name").textContent = session.name;
  $("session-status").replaceChildren(statusBadge(session.status));
  const parts = [`Responsável: ${session.owner ? session.owner.name : "—"}`, `criada em ${when(session.createdAt)}`];
  if (session.startedAt) parts.push(`iniciada em ${when(session.startedAt)}`);
  if (session.completedAt) parts.push(`concluída em ${when(session.completedAt)}`);
  if (session.archivedAt) parts.push(`arquivada em ${when(session.archivedAt)}`);
  if (session.reuseCount) parts.push(`reaproveitada ${int(session.reuseCount)}×`);
  $("session-meta").textContent = parts.join(" · ");
  const scanner = $("open-scanner");
  scanner.href = `/scanner.html?id=${encodeURIComponent(session.id)}`;
  scanner.hidden = session.isReadonly;
  if (actions) actions.render(session);
}

function renderProgress() {
  const p = session.progress;
  $("progress-percent").textContent = percent(p.percent);
  $("progress-label").textContent =
    `concluído · ${int(p.delivered + p.failed)} de ${plural(p.total, "pacote finalizado", "pacotes finalizados")}`;
  const bar = $("progress");
  bar.setAttribute("aria-valuenow", String(Math.round(p.percent)));
  bar.dataset.percent = String(p.percent);
  $("bar-delivered").style.width = `${p.total ? (p.delivered / p.total) * 100 : 0}%`;
  $("bar-failed").style.width = `${p.total ? (p.failed / p.total) * 100 : 0}%`;
  for (const el of document.querySelectorAll("[data-counter]")) {
    const value = p[el.dataset.counter];
    const dd = el.querySelector("dd");
    if (dd.textContent !== int(value)) {
      dd.textContent = int(value);
      el.classList.remove("bump");
      void el.offsetWidth;
      el.classList.add("bump");
    }
  }
}

function renderDeliverers() {
  const body = $("deliverers").querySelector("tbody");
  const list = session.deliverers || [];
  for (const d of list) delivererNames[d.id] = d.user.name;
  body.replaceChildren(
    ...list.map((d) =>
      h(
        "tr",
        { dataset: { delivererId: d.id } },
        h("td", { class: "name-cell" }, d.user.name, h("small", { class: "muted block pay-line" }, `${money(d.baseSalary)} + ${money(d.commissionPerDelivery)}/entrega`)),
        h("td", { class: "num", dataset: { label: "Atribuídos" } }, int(d.packagesAssigned)),
        h("td", { class: "num", dataset: { label: "Entregues" } }, int(d.packagesDelivered)),
        h("td", { class: "num", dataset: { label: "Falhas" } }, int(d.packagesFailed)),
        h("td", { class: "num strong earned", dataset: { label: "Ganhos" } }, money(d.totalEarned)),
      ),
    ),
  );
  $("deliverers-empty").hidden = list.length > 0;
  $("deliverers").hidden = list.length === 0;
  $("deliverers-count").textContent = list.length ? `(${plural(list.length, "entregador", "entregadores")})` : "";
  // A deliverer sees only their own pay (the others' is null): no total for them.
  const earned = list.map((d) => d.totalEarned);
  $("deliverers-total").textContent = earned.includes(null) ? "—" : money(sumMoney(earned));

  const select = $("filter-deliverer");
  const chosen = select.value;
  select.replaceChildren(
    h("option", { value: "" }, "Todos"),
    ...list.map((d) => h("option", { value: d.id }, d.user.name)),
  );
  select.value = list.some((d) => d.id === chosen) ? chosen : "";

  const assignTo = $("assign-deliverer");
  const target = assignTo.value;
  assignTo.replaceChildren(...list.map((d) => h("option", { value: d.id }, d.user.name)));
  if (list.some((d) => d.id === target)) assignTo.value = target;
  renderAssignBar();
}

/** Exact sum of decimal strings ("12.50"), back as a decimal string. */
function sumMoney(values) {
  let cents = 0n;
  for (const v of values) {
    const [whole, frac = ""] = String(v).split(".");
    cents += BigInt(whole) * 100n + BigInt((frac + "00").slice(0, 2));
  }
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

// Proof of delivery: thumbnails that open the photo full size, the signature, who received it
// and the place the phone gave. Links expire: a reload of the page fetches fresh ones.
function proofCell(proof) {
  if (!proof) return null;
  const thumbs = proof.photos.map((ph, i) =>
    h("a", { href: ph.url, target: "_blank", rel: "noopener", class: "proof-thumb", title: `Foto ${i + 1} da entrega` },
      h("img", { src: ph.url, alt: `Foto ${i + 1} da entrega`, width: 64, loading: "lazy" })),
  );
  const sig = proof.signature
    ? h("a", { href: proof.signature.url, target: "_blank", rel: "noopener", class: "proof-signature" }, "assinatura")
    : null;
  const place = proof.location
    ? h("small", { class: "muted block proof-place" },
        `Local: ${proof.location.latitude.toFixed(5)}, ${proof.location.longitude.toFixed(5)}` +
        (proof.location.accuracy != null ? ` (± ${Math.round(proof.location.accuracy)} m)` : ""))
    : null;
  const who = proof.receivedBy ? h("small", { class: "muted block" }, `Recebido por ${proof.receivedBy}`) : null;
  return h("div", { class: "proof" }, ...thumbs, sig, who, place);
}

const FINAL = new Set(["DELIVERED", "FAILED"]);

/** A package that may still be given to a deliverer. */
function assignable(p) {
  return !FINAL.has(p.status) && !session.isReadonly;
}

function packageRow(p) {
  const addr = p.address ? [p.address.line, p.address.city].filter(Boolean).join(", ") : "—";
  const pick = assignable(p)
    ? h("input", {
        type: "checkbox",
        class: "pick",
        value: p.id,
        checked: selected.has(p.id),
        "aria-label": `Selecionar ${p.barcode}`,
        onchange: (event) => {
          if (event.target.checked) selected.add(p.id);
          else selected.delete(p.id);
          renderAssignBar();
        },
      })
    : null;
  return h(
    "tr",
    { dataset: { packageId: p.id, barcode: p.barcode, status: p.status } },
    h("td", { class: "pick-col" }, pick),
    h("td", { class: "code-cell" }, h("code", { class: "barcode" }, p.barcode), p.symbology ? h("small", { class: "muted block" }, p.symbology) : null),
    h("td", { dataset: { label: "Status" } }, deliveryBadge(p.status), p.failureReason ? h("small", { class: "muted block" }, p.failureReason) : null, proofCell(p.proof)),
    h("td", { dataset: { label: "Destinatário" } }, p.recipientName || "—"),
    h("td", { dataset: { label: "Endereço" } }, addr),
    h("td", { class: "deliverer-cell", dataset: { label: "Entregador" } }, p.deliverer ? p.deliverer.user.name : "—"),
    h("td", { class: "nowrap", dataset: { label: "Atualizado" } }, when(p.updatedAt)),
  );
}

function showRows(rows, append) {
  const body = $("packages").querySelector("tbody");
  if (append) body.append(...rows);
  else body.replaceChildren(...rows);
  packagesLoaded = body.children.length;
  $("packages-empty").hidden = packagesLoaded > 0;
  $("select-all").checked = false;
  renderAssignBar();
}

function renderPackages(connection, append) {
  showRows(connection.edges.map((e) => packageRow(e.node)), append);
  packagesCursor = connection.pageInfo.endCursor;
  $("packages-more").hidden = !connection.pageInfo.hasNextPage;
  $("packages-empty").textContent = "Nenhum pacote com esses filtros.";
  const filtered = $("filter-status").value || $("filter-deliverer").value;
  $("packages-count").textContent = `(${plural(connection.totalCount, "pacote", "pacotes")}${filtered ? " com o filtro" : ""})`;
}

function renderAssignBar() {
  if (!session) return;
  const show = canManage() && !session.isReadonly && (session.deliverers || []).length > 0;
  $("assign-bar").hidden = !show;
  const n = selected.size;
  $("selected-count").textContent = n ? `${plural(n, "pacote selecionado", "pacotes selecionados")}` : "Nenhum pacote selecionado";
  $("assign-selected").disabled = n === 0;
  for (const box of document.querySelectorAll("#packages .pick-col")) box.hidden = !show;
}

// ---- search ----------------------------------------------------------------------------------

/** Lower case, without accents: "José" and "jose" are the same search. */
function fold(text) {
  return String(text || "")
    .normalize("NFD")
    .replace(/\p{Diacritic}/gu, "")
    .toLowerCase();
}

/** Every package of the session with the filters of the page, page by page. */
async function allPackages(filter = {}) {
  const nodes = [];
  let after = null;
  for (;;) {
    const data = await gql(ALL_PACKAGES, { id: sessionId, first: 1000, after, ...filter });
    if (!data.session) return nodes;
    const page = data.session.packages;
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
}

async function runSearch() {
  const term = searchTerm;
  const needle = fold(term);
  const exact = /\s/.test(term.trim())
    ? Promise.resolve(null)
    : gql(PACKAGE_BY_CODE, { sessionId, barcode: term.trim() }).then((d) => d.package, () => null);
  const [all, found] = await Promise.all([allPackages(filters()), exact]);
  if (term !== searchTerm) return; // a newer search is on its way
  const hits = all.filter(
    (p) => fold(p.barcode).includes(needle) || fold(p.rawText).includes(needle) || fold(p.recipientName).includes(needle),
  );
  if (found && !hits.some((p) => p.id === found.id)) hits.unshift(found);
  showRows(hits.map(packageRow), false);
  $("packages-more").hidden = true;
  $("packages-empty").textContent = `Nenhum pacote encontrado para “${term}”.`;
  $("packages-count").textContent = `(${plural(hits.length, "encontrado", "encontrados")} para “${term}”)`;
}

function renderSnapshot() {
  const snap = session.financialSnapshot;
  $("snapshot").hidden = !snap;
  if (!snap) return;
  $("snapshot-total").textContent = money(snap.totalCost, snap.currency);
  $("snapshot-delivered").textContent = int(snap.delivered);
  $("snapshot-failed").textContent = int(snap.failed);
  $("snapshot-at").textContent = when(snap.computedAt);
  const req = snap.proofRequired;
  const needs = req ? [req.photo ? "foto" : null, req.signature ? "assinatura" : null].filter(Boolean) : [];
  $("snapshot-proof").textContent = needs.length ? needs.join(" e ") : "nenhuma";
  $("snapshot-table")
    .querySelector("tbody")
    .replaceChildren(
      ...snap.deliverers.map((d) =>
        h(
          "tr",
          { dataset: { delivererId: d.delivererId } },
          h("td", { class: "name-cell" }, d.name),
          h("td", { class: "num", dataset: { label: "Entregues" } }, int(d.delivered)),
          h("td", { class: "num", dataset: { label: "Falhas" } }, int(d.failed)),
          h("td", { class: "num", dataset: { label: "Salário base" } }, money(d.baseSalary, snap.currency)),
          h("td", { class: "num", dataset: { label: "Comissão" } }, money(d.commission, snap.currency)),
          h("td", { class: "num strong", dataset: { label: "Total" } }, money(d.totalEarned, snap.currency)),
        ),
      ),
    );
}

function addFeed(ev, live) {
  const feed = $("feed");
  const item = h(
    "li",
    { class: `feed-item action-${ev.action.replace(/[^a-z]+/g, "-")}${live ? " fresh" : ""}`, dataset: { sequence: ev.sequence, action: ev.action } },
    h("span", { class: "feed-seq" }, `#${ev.sequence}`),
    h(
      "div",
      { class: "feed-body" },
      h("span", { class: "feed-text" }, describeEvent(ev, delivererNames)),
      h("small", { class: "muted" }, `${clock(ev.createdAt)}${ev.actor ? ` · ${ev.actor.name}` : ""}`),
    ),
  );
  feed.prepend(item);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  $("feed-empty").hidden = true;
}

// ---- data ------------------------------------------------------------------------------------

function filters() {
  return {
    status: $("filter-status").value || null,
    delivererId: $("filter-deliverer").value || null,
  };
}

async function loadPage() {
  const first = Math.min(1000, Math.max(PAGE, packagesLoaded));
  const data = await gql(SESSION_PAGE, { id: sessionId, first, ...filters() });
  if (!data.session) {
    showError("Sessão não encontrada, ou você não tem acesso a ela.");
    return false;
  }
  const fresh = data.session;
  if (fresh.lastSequence < appliedSeq) {
    // Older than what the live events already showed: read again.
    scheduleRefresh();
    return true;
  }
  session = fresh;
  appliedSeq = fresh.lastSequence;
  $("session-error").hidden = true;
  renderHeader();
  renderProgress();
  renderDeliverers();
  renderSnapshot();
  if (searchTerm) await runSearch();
  else renderPackages(fresh.packages, false);
  $("session-page").setAttribute("aria-busy", "false");
  // Other parts of the page (routes.js) re-read what they show.
  document.dispatchEvent(new CustomEvent("bipa:session", { detail: { sessionId } }));
  return true;
}

function scheduleRefresh(delay = 250) {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = 0;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    try {
      await loadPage();
    } catch (err) {
      if (err instanceof NetworkError) scheduleRefresh(2000);
    } finally {
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        scheduleRefresh();
      }
    }
  }, delay);
}

function onEvent(ev) {
  if (feedSeq !== null && ev.sequence <= feedSeq) return; // already shown
  const live = ev.sequence > appliedSeq;
  feedSeq = ev.sequence;
  addFeed(ev, live);
  if (!live) return;
  appliedSeq = ev.sequence;
  session.lastSequence = ev.sequence;
  session.progress = ev.progress;
  if (STATUS_BY_ACTION[ev.action]) {
    session.status = STATUS_BY_ACTION[ev.action];
    session.isReadonly = session.status === "COMPLETED" || session.status === "ARCHIVED";
    renderHeader();
  }
  renderProgress();
  scheduleRefresh();
}

function startLive() {
  feedSeq = Math.max(0, session.lastSequence - FEED_HISTORY);
  const client = liveClient({ onStatus: setLiveStatus, onReconnected: () => scheduleRefresh(0) });
  window.bipa = { ...window.bipa, live: client }; // a handle for support and the browser tests
  client.subscribe(
    {
      query: SESSION_EVENTS,
      // Called at every (re)subscription: resume right after the last event seen.
      variables: () => ({ sessionId, afterSequence: feedSeq }),
      retry: true,
    },
    {
      next: (payload) => {
        if (payload.data && payload.data.sessionEvents) onEvent(payload.data.sessionEvents);
        else if (payload.errors) toast(`Tempo real: ${payload.errors.map((e) => e.message).join("; ")}`, "error");
      },
      error: (errors) => toast(`Tempo real: ${errors.map((e) => e.message).join("; ")}`, "error"),
    },
  );
}

function showError(text) {
  const box = $("session-error");
  box.textContent = text;
  box.hidden = false;
  $("session-name").textContent = "Sessão";
  $("session-page").setAttribute("aria-busy", "false");
}

async function main() {
  renderTopbar("sessions");
  if (!sessionId) {
    location.replace("/");
    return;
  }
  actions = setUpActions({
    sessionId,
    canManage,
    current: () => session,
    selected,
    allPackages,
    refresh: () => scheduleRefresh(0),
  });
  const jobs = setUpJobs({ sessionId, canManage, refresh: () => scheduleRefresh(0) });
  let searchTimer = 0;
  $("package-search").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      searchTerm = event.target.value.trim();
      packagesLoaded = 0;
      scheduleRefresh(0);
    }, 250);
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    searchTerm = $("package-search").value.trim();
    scheduleRefresh(0);
  });
  $("select-all").addEventListener("change", (event) => {
    for (const box of document.querySelectorAll("#packages tbody input.pick")) {
      box.checked = event.target.checked;
      if (box.checked) selected.add(box.value);
      else selected.delete(box.value);
    }
    renderAssignBar();
  });
  for (const id of ["filter-status", "filter-deliverer"]) {
    $(id).addEventListener("change", () => {
      packagesLoaded = 0;
      scheduleRefresh(0);
    });
  }
  $("packages-more").addEventListener("click", async () => {
    try {
      const data = await gql(MORE_PACKAGES, { id: sessionId, first: PAGE, after: packagesCursor, ...filters() });
      if (data.session) renderPackages(data.session.packages, true);
    } catch (err) {
      toast(`Não foi possível carregar: ${err.message}`, "error");
    }
  });
  for (;;) {
    try {
      if (await loadPage()) {
        startLive();
        jobs.load();
      }
      return;
    } catch (err) {
      if (!(err instanceof NetworkError)) {
        showError(`Erro ao carregar a sessão: ${err.message}`);
        return;
      }
      showError("Sem conexão com o servidor. Tentando de novo…");
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

if (token) main();
