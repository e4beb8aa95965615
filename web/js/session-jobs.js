// The session's background jobs on its page (managers): importing a manifest (CSV or XLSX,
// with a dry run), exporting a report (PDF, XLSX, CSV), and the running and recent jobs, each
// with a progress bar that follows `jobProgress` until the job ends.
//
// A finished job is read once more for its links: `downloadUrl` and `problemsUrl` are minted on
// every read and expire, so they are fetched when shown, never kept.

import { GraphQLRequestError, NetworkError, gql, gqlUpload, liveClient, newIdempotencyKey } from "./api.js";
import { errorText } from "./errors.js";
import { h, int, plural, when } from "./format.js";
import { toast } from "./layout.js";
import { CANCEL_JOB, EXPORT_REPORT, IMPORT_MANIFEST, JOB_LINKS, JOB_PROGRESS, SESSION_JOBS } from "./queries.js";

const $ = (id) => document.getElementById(id);
const RECENT = 10;
const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const JOB_STATUS = {
  QUEUED: "Na fila",
  RUNNING: "Em andamento",
  SUCCEEDED: "Concluída",
  FAILED: "Falhou",
  CANCELLED: "Cancelada",
};
const FORMAT = { PDF: "PDF", XLSX: "Excel (XLSX)", CSV: "CSV" };

function failureText(err) {
  if (err instanceof NetworkError) return "Sem conexão com o servidor: tente de novo.";
  if (err instanceof GraphQLRequestError) return `Erro: ${err.message}`;
  return `Erro: ${err && err.message ? err.message : err}`;
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = !text;
}

function title(job) {
  if (job.kind === "IMPORT_MANIFEST") {
    return job.result && job.result.dryRun ? "Conferência de manifesto" : "Importação de manifesto";
  }
  const format = job.result && job.result.format;
  return format ? `Relatório ${FORMAT[format] || format}` : "Relatório da sessão";
}

/** What the job did, in a line: rows for an import, the file for a report. */
function summary(job) {
  if (job.kind !== "IMPORT_MANIFEST") {
    if (job.status === "SUCCEEDED") return "Arquivo pronto.";
    return job.status === "FAILED" ? "" : "Gerando o arquivo…";
  }
  if (job.total === null || job.total === undefined) return "Lendo o arquivo…";
  const parts = [`${int(job.done + job.failed)} de ${plural(job.total, "linha", "linhas")}`];
  if (job.failed) parts.push(plural(job.failed, "linha recusada", "linhas recusadas"));
  const result = job.result || {};
  if (job.status === "SUCCEEDED" && result.dryRun) parts.push("nada foi gravado (só conferência)");
  else if (job.status === "SUCCEEDED" && !result.applied) parts.push("nada foi gravado (tudo ou nada)");
  else if (job.status === "SUCCEEDED") parts.push(`${plural(result.added ?? job.done, "pacote", "pacotes")} na sessão`);
  return parts.join(" · ");
}

export function setUpJobs({ sessionId, canManage, refresh }) {
  const card = $("jobs-card");
  const list = $("jobs");
  const rows = new Map(); // job id -> its <li>
  const following = new Map(); // job id -> stop()
  let live = null;

  function liveConnection() {
    if (!live) live = liveClient({});
    return live;
  }

  function render(job) {
    let li = rows.get(job.id);
    if (!li) {
      li = h("li", { class: "job", dataset: { jobId: job.id } });
      rows.set(job.id, li);
      list.prepend(li);
    }
    li.dataset.status = job.status;
    li.dataset.progress = String(job.progress);
    const bar = h(
      "div",
      {
        class: "progress job-progress",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(job.progress),
        "aria-label": `${title(job)}: ${job.progress}%`,
      },
      h("div", {
        class: `progress-bar ${job.status === "FAILED" ? "progress-failed" : "progress-delivered"}`,
        style: { width: `${job.progress}%` }, // CSSOM: the CSP allows no style attributes
      }),
    );
    const actions = h("div", { class: "job-actions" });
    if (!FINAL.has(job.status)) {
      actions.append(h("button", { type: "button", class: "btn btn-small", onclick: () => cancel(job.id) }, "Cancelar"));
    }
    li.replaceChildren(
      h(
        "div",
        { class: "job-head" },
        h("strong", {}, title(job)),
        h("span", { class: `badge job-${job.status.toLowerCase()}` }, JOB_STATUS[job.status] || job.status),
        h("span", { class: "muted job-percent" }, `${job.progress}%`),
      ),
      bar,
      h("p", { class: "muted job-summary" }, summary(job), job.finishedAt ? ` · ${when(job.finishedAt)}` : ""),
      job.status === "FAILED" && job.lastError ? h("p", { class: "form-error job-error" }, "A tarefa falhou.") : null,
      actions,
    );
    $("jobs-empty").hidden = rows.size > 0;
    if (job.status === "SUCCEEDED") links(job.id, actions);
  }

  async function links(jobId, box) {
    try {
      const data = await gql(JOB_LINKS, { id: jobId });
      const job = data.job;
      if (!job) return;
      if (job.downloadUrl) {
        box.append(h("a", { class: "btn btn-small btn-primary job-download", href: job.downloadUrl, download: (job.result || {}).filename || "" }, "Baixar relatório"));
      }
      if (job.problemsUrl) {
        box.append(h("a", { class: "btn btn-small job-problems", href: job.problemsUrl, download: "problemas.csv" }, "Baixar problemas (CSV)"));
      }
    } catch (err) {
      box.append(h("span", { class: "form-error" }, failureText(err)));
    }
  }

  function follow(job) {
    render(job);
    if (FINAL.has(job.status) || following.has(job.id)) return;
    const stop = liveConnection().subscribe(
      { query: JOB_PROGRESS, variables: { id: job.id }, retry: true },
      {
        next: (payload) => {
          const state = payload.data && payload.data.jobProgress;
          if (!state) return;
          render(state);
          if (FINAL.has(state.status)) {
            stop();
            following.delete(job.id);
            if (state.kind === "IMPORT_MANIFEST") refresh();
          }
        },
        error: (errors) => {
          if (errors.some((e) => e?.extensions?.code === "NOT_FOUND")) {
            stop();
            following.delete(job.id);
          }
        },
      },
    );
    following.set(job.id, stop);
  }

  async function cancel(jobId) {
    try {
      const data = await gql(CANCEL_JOB, { id: jobId });
      const result = data.cancelJob;
      if (result.__typename === "JobSuccess") follow(result.job);
      else toast(errorText(result), "error");
    } catch (err) {
      toast(failureText(err), "error");
    }
  }

  function started(result, box, doneText) {
    if (result.__typename !== "JobSuccess") {
      showError(box, errorText(result));
      return false;
    }
    showError(box, "");
    follow(result.job);
    toast(result.created ? doneText : "Esta tarefa já estava em andamento.");
    return true;
  }

  async function onImport(event) {
    event.preventDefault();
    const box = $("import-error");
    const input = $("import-file");
    const file = input.files && input.files[0];
    if (!file) {
      showError(box, "Escolha um arquivo CSV ou XLSX.");
      return;
    }
    const button = $("import-submit");
    button.disabled = true;
    try {
      const variables = {
        sid: sessionId,
        file: null,
        dryRun: $("import-dry-run").checked,
        allOrNothing: $("import-all").checked,
        key: newIdempotencyKey(),
      };
      const data = await gqlUpload(IMPORT_MANIFEST, variables, { file });
      if (started(data.importManifest, box, "Importação iniciada.")) input.value = "";
    } catch (err) {
      showError(box, failureText(err));
    } finally {
      button.disabled = false;
    }
  }

  async function onExport(event) {
    event.preventDefault();
    const box = $("export-error");
    const button = $("export-submit");
    button.disabled = true;
    try {
      const data = await gql(EXPORT_REPORT, { sid: sessionId, format: $("export-format").value, key: newIdempotencyKey() });
      started(data.exportSessionReport, box, "Gerando o relatório…");
    } catch (err) {
      showError(box, failureText(err));
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    if (!canManage()) return;
    card.hidden = false;
    try {
      const data = await gql(SESSION_JOBS, { sid: sessionId, first: RECENT });
      const jobs = data.jobs.edges.map((e) => e.node).reverse(); // oldest first: prepend keeps newest on top
      for (const job of jobs) follow(job);
      $("jobs-empty").hidden = rows.size > 0;
    } catch (err) {
      toast(`Não foi possível carregar as tarefas: ${failureText(err)}`, "error");
    }
  }

  $("import-form").addEventListener("submit", onImport);
  $("export-form").addEventListener("submit", onExport);
  return { load };
}
