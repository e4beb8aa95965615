// Running a session from its page: start, pause, resume, complete (forced when packages are
// still open, after a confirmation), archive, reuse; adding deliverers with their pay; giving
// packages to a deliverer (the ticked ones, or every one without a deliverer).
//
// Every change is one mutation; its result union says how it went (errors in Portuguese by
// code, errors.js). The page itself follows from the session's live events and a re-read.

import { GraphQLRequestError, NetworkError, gql, newIdempotencyKey } from "./api.js";
import { errorText } from "./errors.js";
import { h, parseMoney, plural, pluralWord } from "./format.js";
import { toast } from "./layout.js";
import {
  ADD_DELIVERER,
  ARCHIVE_SESSION,
  ASSIGN_PACKAGES,
  COMPLETE_SESSION,
  CREATE_DELIVERER_USER,
  KNOWN_DELIVERERS,
  PAUSE_SESSION,
  RESUME_SESSION,
  REUSE_SESSION,
  START_SESSION,
} from "./queries.js";

const $ = (id) => document.getElementById(id);
const FINAL = new Set(["DELIVERED", "FAILED"]);
const CHUNK = 1000; // the API's most packages per assignPackages
const NEW_USER = "new";

const ACTIONS = {
  reuse: { doc: REUSE_SESSION, field: "reuseSession", done: "Sessão reaproveitada.", when: ["OPEN"] },
  start: { doc: START_SESSION, field: "startSession", done: "Entregas iniciadas.", when: ["OPEN"] },
  pause: { doc: PAUSE_SESSION, field: "pauseSession", done: "Sessão pausada.", when: ["ACTIVE"] },
  resume: { doc: RESUME_SESSION, field: "resumeSession", done: "Sessão retomada.", when: ["PAUSED"] },
  complete: { doc: COMPLETE_SESSION, field: "completeSession", done: "Sessão concluída.", when: ["ACTIVE", "PAUSED"] },
  archive: { doc: ARCHIVE_SESSION, field: "archiveSession", done: "Sessão arquivada.", when: ["COMPLETED"] },
};

function failureText(err) {
  if (err instanceof NetworkError) return "Sem conexão com o servidor: tente de novo.";
  if (err instanceof GraphQLRequestError) return `Erro: ${err.message}`;
  return `Erro: ${err && err.message ? err.message : err}`;
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = !text;
}

/** A modal question; resolves true when the person confirms. */
function confirmDialog(title, text, okLabel) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

/**
 * @param {{sessionId: string, canManage: () => boolean, current: () => object,
 *          selected: Set<string>, allPackages: (filter?: object) => Promise<object[]>,
 *          refresh: () => void}} page
 */
export function setUpActions(page) {
  const errorBox = $("action-error");
  let known = null; // users who delivered in the caller's sessions: id -> name

  async function run(name) {
    const action = ACTIONS[name];
    const session = page.current();
    const variables = { sessionId: page.sessionId, key: newIdempotencyKey() };
    if (name === "complete") {
      const p = session.progress;
      const open = p.pending + p.pickedUp;
      const text = open
        ? `Ainda há ${plural(open, "pacote em aberto", "pacotes em aberto")}. Concluir agora marca ` +
          `${pluralWord(open, "esse pacote", "esses pacotes")} como falha, fecha o financeiro e deixa a sessão somente leitura.`
        : "Concluir fecha o financeiro e deixa a sessão somente leitura.";
      const ok = await confirmDialog("Concluir a sessão?", text, open ? "Concluir mesmo assim" : "Concluir");
      if (!ok) return;
      variables.force = open > 0;
    }
    showError(errorBox, "");
    const buttons = document.querySelectorAll("#session-actions button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      const result = (await gql(action.doc, variables))[action.field];
      if (result.__typename === "SessionSuccess") {
        toast(action.done, "ok");
        page.refresh();
      } else {
        showError(errorBox, errorText(result));
      }
    } catch (err) {
      showError(errorBox, failureText(err));
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  for (const button of document.querySelectorAll("#session-actions button[data-action]")) {
    button.addEventListener("click", () => run(button.dataset.action));
  }

  // ---- deliverers ------------------------------------------------------------------------

  const form = $("add-deliverer");
  const who = $("deliverer-user");
  const formError = $("deliverer-error");
  let delivererKey = newIdempotencyKey();

  async function loadKnown() {
    known = new Map();
    try {
      const data = await gql(KNOWN_DELIVERERS);
      for (const { node } of data.sessions.edges) {
        for (const d of node.deliverers) if (d.user.role === "DELIVERER") known.set(d.user.id, d.user.name);
      }
    } catch {
      /* the list is a convenience: a new deliverer can still be added by name */
    }
    renderWho();
  }

  function renderWho() {
    if (!known) return;
    const session = page.current();
    const inSession = new Set(((session && session.deliverers) || []).map((d) => d.user.id));
    const chosen = who.value;
    const options = [...known]
      .filter(([id]) => !inSession.has(id))
      .sort((a, b) => a[1].localeCompare(b[1], "pt-BR"))
      .map(([id, name]) => h("option", { value: id }, name));
    who.replaceChildren(...options, h("option", { value: NEW_USER }, "Novo entregador…"));
    who.value = [...who.options].some((o) => o.value === chosen) ? chosen : who.options[0].value;
    $("deliverer-new").hidden = who.value !== NEW_USER;
  }

  who.addEventListener("change", () => {
    $("deliverer-new").hidden = who.value !== NEW_USER;
    if (who.value === NEW_USER) $("deliverer-name").focus();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(formError, "");
    const baseSalary = parseMoney($("deliverer-base").value);
    const commission = parseMoney($("deliverer-commission").value);
    if (baseSalary === null) return showError(formError, "Salário base: informe um valor como 100,00.");
    if (commission === null) return showError(formError, "Comissão por entrega: informe um valor como 5,50.");
    const submit = $("deliverer-submit");
    submit.disabled = true;
    try {
      let userId = who.value;
      let created = null;
      if (userId === NEW_USER) {
        const name = $("deliverer-name").value.trim();
        if (!name) return showError(formError, "Informe o nome do novo entregador.");
        const made = (await gql(CREATE_DELIVERER_USER, { name })).createUser;
        if (made.__typename !== "CreateUserSuccess") return showError(formError, errorText(made));
        created = made;
        userId = made.user.id;
        // Known from now on: a failure below is retried with this user, not a second one.
        known.set(userId, made.user.name);
        renderWho();
        who.value = userId;
        $("deliverer-new").hidden = true;
      }
      const result = (
        await gql(ADD_DELIVERER, { sessionId: page.sessionId, userId, baseSalary, commission, key: delivererKey })
      ).addDeliverer;
      if (result.__typename !== "AddDelivererSuccess") {
        showError(formError, errorText(result));
        delivererKey = newIdempotencyKey();
        return;
      }
      delivererKey = newIdempotencyKey();
      toast(`${result.deliverer.user.name} entrou na sessão.`, "ok");
      form.reset();
      $("deliverer-token").hidden = !created;
      if (created) {
        $("deliverer-token-name").textContent = created.user.name;
        $("deliverer-token-value").textContent = created.token;
      }
      page.refresh();
    } catch (err) {
      // The same idempotency key is kept: a retry after a network error adds them once.
      showError(formError, failureText(err));
    } finally {
      submit.disabled = false;
    }
  });

  // ---- assignment ------------------------------------------------------------------------

  async function assign(ids) {
    const delivererId = $("assign-deliverer").value;
    const target = $("assign-deliverer").selectedOptions[0];
    if (!delivererId) return showError(errorBox, "Escolha o entregador.");
    let done = 0;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const result = (
        await gql(ASSIGN_PACKAGES, {
          sessionId: page.sessionId,
          packageIds: ids.slice(i, i + CHUNK),
          delivererId,
          key: newIdempotencyKey(),
        })
      ).assignPackages;
      if (result.__typename !== "AssignPackagesSuccess") {
        showError(errorBox, errorText(result));
        if (done) page.refresh();
        return false;
      }
      done += result.packages.length;
    }
    toast(`${plural(done, "pacote atribuído", "pacotes atribuídos")} a ${target ? target.textContent : "entregador"}.`, "ok");
    page.refresh();
    return true;
  }

  async function withBusy(button, work) {
    showError(errorBox, "");
    button.disabled = true;
    try {
      await work();
    } catch (err) {
      showError(errorBox, failureText(err));
    } finally {
      button.disabled = false;
    }
  }

  $("assign-selected").addEventListener("click", (event) =>
    withBusy(event.currentTarget, async () => {
      if (await assign([...page.selected])) page.selected.clear();
    }),
  );
  $("assign-unassigned").addEventListener("click", (event) =>
    withBusy(event.currentTarget, async () => {
      const open = (await page.allPackages()).filter((p) => !p.deliverer && !FINAL.has(p.status));
      if (!open.length) return showError(errorBox, "Nenhum pacote sem entregador.");
      await assign(open.map((p) => p.id));
    }),
  );

  return {
    /** Shows what this session allows now. */
    render(session) {
      const manage = page.canManage();
      let any = false;
      for (const [name, action] of Object.entries(ACTIONS)) {
        const show = manage && action.when.includes(session.status);
        $(`action-${name}`).hidden = !show;
        any ||= show;
      }
      $("session-actions").hidden = !any;
      form.hidden = !manage || session.isReadonly;
      if (!form.hidden && known === null) loadKnown();
      else renderWho();
    },
  };
}
