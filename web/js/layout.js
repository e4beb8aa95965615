// The top bar shared by the signed-in pages, and the live-connection indicator.

import { getToken, getUser, gql, saveAuth, signOut } from "./api.js";
import { ROLE, h } from "./format.js";

const LIVE_TEXT = {
  idle: "Conectando…",
  connecting: "Conectando…",
  connected: "Ao vivo",
  reconnecting: "Reconectando…",
  forbidden: "Acesso negado",
  closed: "Desconectado",
};

export function renderTopbar(active, { refresh = true } = {}) {
  const bar = document.getElementById("topbar");
  if (!bar) return;
  if (refresh) refreshMe(active);
  const user = getUser();
  const link = (href, text, key) =>
    h("a", { href, class: key === active ? "active" : null, "aria-current": key === active ? "page" : null }, text);
  bar.replaceChildren(
    h(
      "a",
      { href: "/", class: "brand", "aria-label": "Bipa — início" },
      h("img", { src: "/img/logo.svg", alt: "", width: 28, height: 28 }),
      h("span", {}, "Bipa"),
    ),
    h("nav", { class: "nav" }, link("/", "Sessões", "sessions"), link("/scanner.html", "Scanner", "scanner")),
    h("span", { class: "spacer" }),
    h("span", { id: "live", class: "live live-idle", role: "status", title: "Conexão em tempo real" }, LIVE_TEXT.idle),
    user
      ? h(
          "span",
          { class: "who", id: "who" },
          h("strong", {}, user.name),
          h("small", {}, ROLE[user.role] || user.role),
        )
      : null,
    h("button", { type: "button", class: "btn btn-ghost btn-small", id: "sign-out", onclick: signOut }, "Sair"),
  );
}

// The stored name and role may be stale (or missing): read them again, quietly.
async function refreshMe(active) {
  try {
    const data = await gql("query Me { me { id name role } }");
    const before = getUser();
    saveAuth(getToken(), data.me);
    if (!before || before.name !== data.me.name || before.role !== data.me.role) {
      const live = document.getElementById("live");
      const state = live ? live.dataset.state : null;
      renderTopbar(active, { refresh: false });
      if (state) setLiveStatus(state);
    }
  } catch {
    /* offline: keep what is stored; a bad token already sent the visitor to sign in */
  }
}

export function setLiveStatus(status) {
  const el = document.getElementById("live");
  if (!el) return;
  el.className = `live live-${status}`;
  el.dataset.state = status;
  el.textContent = LIVE_TEXT[status] || status;
}

/** A transient message at the bottom of the screen. */
export function toast(text, kind = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = h("div", { id: "toasts", class: "toasts", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: `toast toast-${kind}` }, text);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}
