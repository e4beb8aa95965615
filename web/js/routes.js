// The session page's routes: each deliverer's stops in driving order with ETAs and distances,
// the buttons that geocode the addresses and optimize the routes (each a background job whose
// status is shown here), and a map (Leaflet, tiles from the server's BIPA_MAP_TILES_URL).
//
// The map is an extra: when the server has no tile URL, when Leaflet cannot be loaded or when
// no tile loads, it is hidden with a note and the list alone says everything.
// It fills <section id="routes"> and re-reads when session.js says the session changed
// ("bipa:session" on document), so it holds no live connection of its own.

import { getUser, gql, newIdempotencyKey } from "./api.js";
import { errorText } from "./errors.js";
import { h, int, plural } from "./format.js";

const ROUTE_STOP = `sequence done eta etaOffsetSeconds travelSeconds distanceMeters parcels packageIds
  address { id line latitude longitude }`;
const SESSION_ROUTES = `
query SessionRoutes($id: ID!) {
  session(id: $id) {
    id status isReadonly
    deliverers { id user { id name } routeStops { ${ROUTE_STOP} } }
  }
}`;
const ROUTE_JOB = "id kind status progress done total lastError result";
const GEOCODE_SESSION = `
mutation GeocodeSession($sessionId: ID!, $key: String) {
  geocodeSession(sessionId: $sessionId, idempotencyKey: $key) {
    __typename
    ... on JobSuccess { created job { ${ROUTE_JOB} } }
    ... on Error { code message }
  }
}`;
const OPTIMIZE_ROUTES = `
mutation OptimizeRoutes($sessionId: ID!, $options: RouteOptionsInput, $key: String) {
  optimizeRoutes(sessionId: $sessionId, options: $options, idempotencyKey: $key) {
    __typename
    ... on JobSuccess { created job { ${ROUTE_JOB} } }
    ... on Error { code message }
  }
}`;
const ROUTE_JOB_STATE = `query RouteJob($id: ID!) { job(id: $id) { ${ROUTE_JOB} } }`;

const LEAFLET = "/vendor/leaflet/leaflet-src.esm.js";
const LEAFLET_CSS = "/vendor/leaflet/leaflet.css";
const COLORS = ["#0f766e", "#c2410c", "#1d4ed8", "#a21caf", "#4d7c0f", "#b91c1c", "#0e7490", "#854d0e"];
const POLL_MS = 1000;
const TILE_WAIT_MS = 10000;
const BALANCE = [
  { value: "0.1", label: "Equilibradas (até 10% a mais)" },
  { value: "0.5", label: "Flexíveis (até 50% a mais)" },
  { value: "", label: "Menor distância total" },
];

const sessionId = new URLSearchParams(location.search).get("id");
const root = document.getElementById("routes");
const hhmm = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit" });

let current = null; // the last SessionRoutes answer
let drawn = ""; // the routes on the map, as JSON: redraw only when they change
let reloadTimer = 0;
const ui = {};
const map = { state: "loading", L: null, view: null, layers: null };

// ---- formatting -----------------------------------------------------------------------------

function km(meters) {
  return `${(meters / 1000).toLocaleString("pt-BR", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} km`;
}

function eta(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : hhmm.format(d);
}

function canManage() {
  const user = getUser();
  return Boolean(user && user.role !== "DELIVERER");
}

// ---- the page's section ---------------------------------------------------------------------

function build() {
  ui.geocode = h("button", { type: "button", class: "btn", id: "routes-geocode" }, "Localizar endereços");
  ui.optimize = h("button", { type: "button", class: "btn btn-primary", id: "routes-optimize" }, "Otimizar rotas");
  ui.balance = h(
    "select",
    { id: "routes-balance" },
    BALANCE.map((b) => h("option", { value: b.value }, b.label)),
  );
  ui.actions = h(
    "div",
    { class: "routes-actions", id: "routes-actions", hidden: true },
    ui.geocode,
    h("label", { class: "routes-balance" }, "Equilíbrio ", ui.balance),
    ui.optimize,
  );
  ui.job = h("p", { id: "routes-job", class: "routes-job muted", role: "status", "aria-live": "polite", hidden: true });
  ui.error = h("p", { id: "routes-error", class: "form-error", role: "alert", hidden: true });
  ui.map = h("div", { id: "routes-map", class: "routes-map", hidden: true, "aria-label": "Mapa das rotas" });
  ui.mapNote = h("p", { id: "routes-map-note", class: "muted routes-map-note", hidden: true });
  ui.list = h("div", { id: "routes-list", class: "routes-list" });
  ui.empty = h("p", { id: "routes-empty", class: "empty" }, "Nenhuma rota ainda: localize os endereços e otimize as rotas.");
  root.replaceChildren(
    h("div", { class: "card-head" }, h("h2", { id: "routes-title" }, "Rotas"), ui.actions),
    ui.job,
    ui.error,
    ui.map,
    ui.mapNote,
    ui.list,
    ui.empty,
  );
  root.setAttribute("aria-labelledby", "routes-title");
  ui.geocode.addEventListener("click", () =>
    start(async () => (await gql(GEOCODE_SESSION, { sessionId, key: newIdempotencyKey() })).geocodeSession),
  );
  ui.optimize.addEventListener("click", () => {
    const balance = ui.balance.value === "" ? null : Number(ui.balance.value);
    const variables = { sessionId, key: newIdempotencyKey(), options: { balance } };
    start(async () => (await gql(OPTIMIZE_ROUTES, variables)).optimizeRoutes);
  });
  root.hidden = false;
}

function renderList() {
  const deliverers = (current && current.deliverers) || [];
  const routed = deliverers.filter((d) => d.routeStops.length);
  ui.list.replaceChildren(
    ...routed.map((d) => {
      const index = deliverers.indexOf(d);
      const stops = d.routeStops;
      const open = stops.filter((s) => !s.done);
      const distance = stops.reduce((sum, s) => sum + s.distanceMeters, 0);
      const parcels = stops.reduce((sum, s) => sum + s.parcels, 0);
      const last = stops[stops.length - 1];
      return h(
        "article",
        { class: "route", dataset: { delivererId: d.id } },
        h(
          "h3",
          { class: "route-head" },
          h("span", { class: `route-swatch route-c${index % COLORS.length}`, "aria-hidden": "true" }),
          d.user.name,
          h(
            "small",
            { class: "muted route-summary" },
            ` ${plural(stops.length, "parada")} · ${plural(parcels, "pacote")} · ${km(distance)} · última às ${eta(last.eta)}`,
            open.length < stops.length ? ` · ${plural(stops.length - open.length, "feita", "feitas")}` : "",
          ),
        ),
        h(
          "ol",
          { class: "route-stops" },
          stops.map((s) =>
            h(
              "li",
              { class: s.done ? "route-stop done" : "route-stop", dataset: { sequence: s.sequence } },
              h("span", { class: "route-eta" }, eta(s.eta)),
              h("span", { class: "route-address" }, s.address ? s.address.line : "Endereço removido"),
              h("span", { class: "route-parcels muted" }, plural(s.parcels, "pacote")),
              h("span", { class: "route-distance muted" }, km(s.distanceMeters)),
            ),
          ),
        ),
      );
    }),
  );
  ui.empty.hidden = routed.length > 0;
  const manage = canManage() && current && !current.isReadonly;
  ui.actions.hidden = !manage;
}

// ---- the map --------------------------------------------------------------------------------

function mapOff(note) {
  map.state = "off";
  if (map.view) {
    map.view.remove();
    map.view = null;
  }
  ui.map.hidden = true;
  ui.mapNote.textContent = note;
  ui.mapNote.hidden = false;
}

function loadCss(href) {
  return new Promise((resolve, reject) => {
    const link = h("link", { rel: "stylesheet", href });
    link.addEventListener("load", resolve);
    link.addEventListener("error", reject);
    document.head.append(link);
  });
}

async function setUpMap() {
  let config = null;
  try {
    const response = await fetch("/web-config.json", { headers: { accept: "application/json" } });
    if (response.ok) config = await response.json();
  } catch {
    config = null;
  }
  const tiles = config && config.map && config.map.tilesUrl;
  if (!tiles) {
    mapOff("Mapa desativado neste servidor; as rotas estão na lista abaixo.");
    return;
  }
  try {
    await loadCss(LEAFLET_CSS);
    map.L = await import(LEAFLET);
  } catch {
    mapOff("Não foi possível carregar o mapa; as rotas estão na lista abaixo.");
    return;
  }
  const L = map.L;
  ui.map.hidden = false;
  map.view = L.map(ui.map, { scrollWheelZoom: false, attributionControl: true });
  map.view.attributionControl.setPrefix(false);
  const layer = L.tileLayer(tiles, { maxZoom: 19, attribution: "" });
  // The attribution is text from the server's settings: never markup.
  map.view.attributionControl.addAttribution(h("span", {}, config.map.attribution || "").innerHTML);
  let loaded = 0;
  let failed = 0;
  const noTiles = () => {
    if (map.state !== "off" && loaded === 0 && failed > 0) {
      mapOff("Não foi possível carregar o mapa de fundo; as rotas estão na lista abaixo.");
    }
  };
  layer.on("tileload", () => {
    loaded += 1;
  });
  layer.on("tileerror", () => {
    failed += 1;
  });
  layer.on("load", noTiles); // every tile in view answered, loaded or failed
  setTimeout(() => {
    if (map.state !== "off" && loaded === 0) {
      failed += 1;
      noTiles();
    }
  }, TILE_WAIT_MS);
  layer.addTo(map.view);
  map.layers = L.layerGroup().addTo(map.view);
  map.view.setView([-23.55, -46.63], 11);
  map.state = "ready";
  ui.map.dataset.state = "ready";
  drawn = "";
  draw();
}

function draw() {
  if (map.state !== "ready" || !current) return;
  const deliverers = current.deliverers || [];
  const key = JSON.stringify(deliverers.map((d) => d.routeStops));
  if (key === drawn) return;
  drawn = key;
  const L = map.L;
  map.layers.clearLayers();
  const bounds = [];
  deliverers.forEach((d, index) => {
    const color = COLORS[index % COLORS.length];
    const points = d.routeStops
      .filter((s) => s.address && s.address.latitude != null && s.address.longitude != null)
      .map((s) => ({ stop: s, at: [s.address.latitude, s.address.longitude] }));
    if (!points.length) return;
    L.polyline(
      points.map((p) => p.at),
      { color, weight: 4, opacity: 0.75, className: "route-line" },
    ).addTo(map.layers);
    for (const { stop, at } of points) {
      const icon = L.divIcon({
        className: `route-marker route-c${index % COLORS.length}${stop.done ? " done" : ""}`,
        html: String(Number(stop.sequence)),
        iconSize: [24, 24],
      });
      const marker = L.marker(at, { icon, keyboard: false, title: `${d.user.name}: parada ${stop.sequence}` });
      marker.bindTooltip(
        h("span", {}, `${d.user.name} · ${stop.sequence}. ${stop.address.line} · ${eta(stop.eta)}`),
      );
      marker.addTo(map.layers);
      bounds.push(at);
    }
  });
  ui.map.dataset.markers = String(bounds.length);
  if (bounds.length) map.view.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
}

// ---- data and jobs --------------------------------------------------------------------------

async function reload() {
  try {
    const data = await gql(SESSION_ROUTES, { id: sessionId });
    if (!data.session) return;
    current = data.session;
    renderList();
    draw();
  } catch {
    // session.js shows the page's connection problems; the routes come back with the next read
  }
}

function scheduleReload(delay = 300) {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(reload, delay);
}

const KIND_TEXT = { GEOCODE_SESSION: "Localização dos endereços", OPTIMIZE_ROUTES: "Otimização das rotas" };

function jobText(job) {
  const what = KIND_TEXT[job.kind] || "Tarefa";
  const r = job.result || {};
  switch (job.status) {
    case "QUEUED":
      return `${what}: na fila…`;
    case "RUNNING":
      return `${what}: em andamento, ${int(job.progress)}%`;
    case "CANCELLED":
      return `${what}: cancelada.`;
    case "FAILED":
      return `${what} falhou: ${errorText({ code: (r.error && r.error.code) || "DOMAIN_ERROR" })}`;
    default:
      if (job.kind === "GEOCODE_SESSION") {
        const lost = r.unplaced ? `; ${plural(r.unplaced, "endereço não localizado", "endereços não localizados")}` : "";
        return `${what}: ${plural(r.placed || 0, "endereço localizado", "endereços localizados")}${lost}.`;
      }
      const lost = r.unplaced ? `; ${plural(r.unplaced, "pacote sem endereço localizado", "pacotes sem endereço localizado")}` : "";
      return `${what}: ${plural(r.stops || 0, "parada")} em ${plural(r.deliverers || 0, "rota")}${lost}.`;
  }
}

function showJob(job) {
  ui.job.textContent = jobText(job);
  ui.job.dataset.status = job.status;
  ui.job.dataset.kind = job.kind;
  ui.job.hidden = false;
}

async function follow(job) {
  showJob(job);
  while (job.status === "QUEUED" || job.status === "RUNNING") {
    await new Promise((r) => setTimeout(r, POLL_MS));
    try {
      const data = await gql(ROUTE_JOB_STATE, { id: job.id });
      if (!data.job) return;
      job = data.job;
      showJob(job);
    } catch {
      // a dropped connection: ask again at the next tick
    }
  }
  scheduleReload(0);
}

/** `ask`: the mutation, answering its JobResult. */
async function start(ask) {
  ui.error.hidden = true;
  for (const b of [ui.geocode, ui.optimize]) b.disabled = true;
  try {
    const result = await ask();
    if (result.__typename !== "JobSuccess") {
      ui.error.textContent = errorText(result);
      ui.error.hidden = false;
      return;
    }
    await follow(result.job);
  } catch (err) {
    ui.error.textContent = `Não foi possível pedir: ${err.message}`;
    ui.error.hidden = false;
  } finally {
    for (const b of [ui.geocode, ui.optimize]) b.disabled = false;
  }
}

function main() {
  if (!root || !sessionId) return;
  build();
  document.addEventListener("bipa:session", () => scheduleReload());
  reload().then(setUpMap);
  window.bipa = { ...window.bipa, routes: { reload, map } }; // a handle for the browser tests
}

main();
