// The scanner's "next stop" for a deliverer: the first stop of their optimized route with a
// parcel of theirs still open (SessionDeliverer.nextStop), its address and parcels. Re-read
// when the scanner sees the session change ("bipa:session"), when the page comes back to the
// front, every 30 s, and on "Atualizar". Hidden for whoever does not deliver in the session.

import { gql } from "./api.js";
import { h, plural } from "./format.js";

const NEXT_STOP = `
query NextStop($id: ID!) {
  me { id }
  session(id: $id) {
    id
    deliverers {
      user { id }
      routeStops { sequence }
      nextStop {
        remaining
        stop { sequence eta parcels }
        address { line complement neighbourhood city postalCode latitude longitude }
        packages { id barcode recipientName }
      }
    }
  }
}`;

const EVERY_MS = 30000;
const sessionId = new URLSearchParams(location.search).get("id");
const box = document.getElementById("next-stop");
const hhmm = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit" });
let timer = 0;

function place(address) {
  const parts = [address.line];
  for (const extra of [address.neighbourhood, address.city, address.postalCode]) {
    if (extra && !address.line.includes(extra)) parts.push(extra);
  }
  return parts.join(" · ");
}

function refreshButton() {
  const button = h("button", { type: "button", class: "btn btn-small", id: "next-stop-refresh" }, "Atualizar");
  button.addEventListener("click", () => load());
  return button;
}

function render(mine) {
  const next = mine.nextStop;
  if (!next) {
    const text = mine.routeStops.length
      ? "Nenhuma parada em aberto na sua rota."
      : "Sua rota ainda não foi definida: fale com o gestor.";
    box.replaceChildren(
      h("h2", { id: "next-stop-title" }, "Próxima parada"),
      h("p", { class: "muted" }, text),
      refreshButton(),
    );
    return;
  }
  const address = next.address;
  const when = new Date(next.stop.eta);
  const map =
    address && address.latitude != null && address.longitude != null
      ? h(
          "a",
          {
            class: "btn btn-small",
            id: "next-stop-map",
            href: `geo:${address.latitude},${address.longitude}?q=${address.latitude},${address.longitude}`,
          },
          "Abrir no mapa",
        )
      : null;
  box.replaceChildren(
    h("h2", { id: "next-stop-title" }, "Próxima parada"),
    h(
      "p",
      { class: "next-stop-meta muted" },
      `Parada ${next.stop.sequence} · ${next.remaining} em aberto · previsão ${Number.isNaN(when.getTime()) ? "—" : hhmm.format(when)}`,
    ),
    h("p", { class: "next-stop-address" }, address ? place(address) : "Endereço removido"),
    address && address.complement ? h("p", { class: "muted" }, address.complement) : null,
    h("p", { class: "next-stop-count" }, `Entregar ${plural(next.packages.length, "pacote")}:`),
    h(
      "ul",
      { class: "next-stop-packages" },
      next.packages.map((p) =>
        h("li", { dataset: { packageId: p.id } }, h("code", {}, p.barcode), p.recipientName ? ` — ${p.recipientName}` : ""),
      ),
    ),
    h("div", { class: "next-stop-actions" }, refreshButton(), map),
  );
}

async function load() {
  clearTimeout(timer);
  timer = setTimeout(load, EVERY_MS);
  let data;
  try {
    data = await gql(NEXT_STOP, { id: sessionId });
  } catch {
    return; // offline: the scanner says so; try again at the next tick
  }
  const mine = data.session && data.session.deliverers.find((d) => d.user.id === data.me.id);
  box.hidden = !mine;
  if (mine) render(mine);
}

let soon = 0;
function loadSoon() {
  clearTimeout(soon);
  soon = setTimeout(load, 500);
}

if (box && sessionId) {
  document.addEventListener("bipa:session", loadSoon);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") loadSoon();
  });
  load();
}
