// Texts for people (Brazilian Portuguese), numbers, money and dates; a tiny DOM helper.

export const SESSION_STATUS = {
  OPEN: "Aberta",
  ACTIVE: "Em andamento",
  PAUSED: "Pausada",
  COMPLETED: "Concluída",
  ARCHIVED: "Arquivada",
};

export const DELIVERY_STATUS = {
  PENDING: "Pendente",
  PICKED_UP: "Coletado",
  DELIVERED: "Entregue",
  FAILED: "Falhou",
};

export const ROLE = { ADMIN: "Administrador", MANAGER: "Gestor", DELIVERER: "Entregador" };

export const INTENT = {
  ADD: "Adicionar à sessão",
  PICK_UP: "Marcar coletado",
  DELIVER: "Marcar entregue",
  IDENTIFY: "Só identificar",
};

// Titles of the error members of the result unions.
export const ERROR_TITLE = {
  NotFoundError: "Não encontrado",
  ValidationError: "Inválido",
  InvalidTransitionError: "Mudança de status não permitida",
  ReadOnlySessionError: "Sessão encerrada (somente leitura)",
  PermissionDeniedError: "Sem permissão",
  IdempotencyConflictError: "Conflito de repetição",
  ImageError: "Imagem inválida",
  OverloadedError: "Servidor ocupado",
};

const REASONS = [
  [/^invalid GTIN-(\d+) check digit$/i, (m) => `dígito verificador inválido (GTIN-${m[1]})`],
  [/^empty barcode$/i, () => "código vazio"],
  [/^longer than (\d+) characters$/i, (m) => `mais de ${m[1]} caracteres`],
  [/^only printable ASCII characters are allowed$/i, () => "só são aceitos caracteres ASCII"],
];

/** A server reason (English) in Portuguese when we know it, else as it came. */
export function reasonText(reason) {
  const text = String(reason || "").trim();
  for (const [pattern, render] of REASONS) {
    const m = text.match(pattern);
    if (m) return render(m);
  }
  return text;
}

const integer = new Intl.NumberFormat("pt-BR");
const percentFmt = new Intl.NumberFormat("pt-BR", { maximumFractionDigits: 1 });
const moneyFmts = new Map();

export function int(n) {
  return integer.format(n ?? 0);
}

/**
 * "1 pacote", "2 pacotes", "0 pacotes": the count and the word that agrees with it, the one
 * way every page says how many (Portuguese uses the singular for exactly one).
 * @param {number} n
 * @param {string} one the singular ("pacote", "pacote finalizado")
 * @param {string} [many] the plural when it is not `one` + "s" ("sessões", "pacotes finalizados")
 */
export function plural(n, one, many = `${one}s`) {
  return `${int(n)} ${pluralWord(n, one, many)}`;
}

/** Only the word of `plural` ("3 de 10 sessões": the count is written apart). */
export function pluralWord(n, one, many = `${one}s`) {
  return Math.abs(n ?? 0) === 1 ? one : many;
}

/**
 * A typed amount of money ("1.234,56", "1234.56", "R$ 12,5", "100") as the API's exact
 * decimal string ("1234.56"), or null when it is not one. No floating point on the way: the
 * digits are kept as they were typed. The server still has the last word (AMOUNT_* codes).
 */
export function parseMoney(text) {
  let s = String(text ?? "").replace(/R\$/i, "").replace(/\s+/g, "");
  if (!s) return null;
  const comma = s.lastIndexOf(",");
  const dot = s.lastIndexOf(".");
  if (comma >= 0 && dot >= 0) {
    // The later mark is the decimal one; the other groups thousands.
    s = comma > dot ? s.replaceAll(".", "").replace(",", ".") : s.replaceAll(",", "");
  } else if (comma >= 0) {
    s = s.replace(",", ".");
  } else if (dot >= 0 && /^\d{1,3}(\.\d{3})+$/.test(s)) {
    s = s.replaceAll(".", ""); // "1.000": thousands, as people in Brazil write it
  }
  const m = s.match(/^(-?)(\d+)(?:\.(\d*))?$/);
  if (!m) return null;
  const whole = m[2].replace(/^0+(?=\d)/, "");
  const frac = m[3] ?? "";
  if (frac.length > 2) return `${m[1]}${whole}.${frac}`; // the server answers AMOUNT_CENTS
  return `${m[1]}${whole}.${frac.padEnd(2, "0")}`;
}

export function percent(p) {
  return `${percentFmt.format(p ?? 0)}%`;
}

/** Money from the API's exact decimal string ("1234.50"). */
export function money(amount, currency = "BRL") {
  if (amount === null || amount === undefined) return "—";
  if (!moneyFmts.has(currency)) {
    try {
      moneyFmts.set(currency, new Intl.NumberFormat("pt-BR", { style: "currency", currency }));
    } catch {
      moneyFmts.set(currency, new Intl.NumberFormat("pt-BR", { minimumFractionDigits: 2 }));
    }
  }
  // Decimal strings of money (two decimals, < 10^10) are exact as doubles when printed to 2 places.
  return moneyFmts.get(currency).format(Number(amount));
}

const dateTime = new Intl.DateTimeFormat("pt-BR", { dateStyle: "short", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat("pt-BR", { timeStyle: "medium" });

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : dateTime.format(d);
}

export function clock(iso) {
  const d = iso ? new Date(iso) : new Date();
  return Number.isNaN(d.getTime()) ? "" : timeOnly.format(d);
}

/**
 * h("div", {class: "x", dataset: {id: 1}, onclick: fn}, "text", child, [more])
 * Strings become text nodes (never HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function statusBadge(status) {
  return h(
    "span",
    { class: `badge status-${String(status).toLowerCase()}`, dataset: { status } },
    SESSION_STATUS[status] || status,
  );
}

export function deliveryBadge(status) {
  return h(
    "span",
    { class: `badge delivery-${String(status).toLowerCase()}`, dataset: { status } },
    DELIVERY_STATUS[status] || status,
  );
}

/** One line for a session event (audit entry) in the feed. */
export function describeEvent(ev, names = {}) {
  const d = ev.details || {};
  const code = d.barcode ? ` ${d.barcode}` : "";
  const after = d.after || {};
  const before = d.before || {};
  switch (ev.action) {
    case "session.created":
      return `Sessão criada${d.name ? ` — “${d.name}”` : ""}`;
    case "session.reused":
      return "Sessão reaproveitada";
    case "session.started":
      return "Distribuição iniciada";
    case "session.paused":
      return "Sessão pausada";
    case "session.resumed":
      return "Sessão retomada";
    case "session.completed":
      return "Sessão concluída — fechamento financeiro gerado";
    case "session.archived":
      return "Sessão arquivada";
    case "package.added":
      return `Pacote adicionado:${code}`;
    case "package.removed":
      return `Pacote removido:${code}`;
    case "package.assigned": {
      const who = names[after.delivererId];
      return `Pacote${code} atribuído${who ? ` a ${who}` : ""}`;
    }
    case "package.status_changed": {
      const from = DELIVERY_STATUS[before.status] || before.status || "?";
      const to = DELIVERY_STATUS[after.status] || after.status || "?";
      // A person's free-text reason stays on the package (LGPD: never in the audit log);
      // the system's own ("session closed") comes with the event.
      const why = d.reason ? ` (${d.reason})` : d.reasonGiven ? " (motivo registrado)" : "";
      return `Pacote${code}: ${from} → ${to}${why}`;
    }
    case "deliverer.added":
      return `Entregador adicionado: ${d.name || "—"}`;
    default:
      return ev.action;
  }
}
