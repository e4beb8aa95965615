// The phone scanner. The camera comes through getUserMedia; where the browser has the
// BarcodeDetector API the code is read on the phone and sent as text (addPackages, or
// package + updatePackageStatus), otherwise a frame goes to the server as a photo
// (scanBarcode, a GraphQL multipart upload). Every scan gets its own idempotency key; scans
// made without a network wait in the outbox and are sent with that key when it returns.
// Delivering takes its proof along (photos, the signature drawn on the screen, who received
// it, the place): in the same request, and in the outbox with the scan when offline.

import {
  AuthError,
  GraphQLRequestError,
  NetworkError,
  getUser,
  gql,
  gqlUpload,
  liveClient,
  newIdempotencyKey,
  requireToken,
} from "./api.js";
import { signal, unlockAudioOnGesture } from "./feedback.js";
import { DELIVERY_STATUS, ERROR_TITLE, INTENT, clock, h, int, percent, plural, reasonText, statusBadge } from "./format.js";
import { Outbox } from "./outbox.js";
import { ADD_PACKAGES, FIND_PACKAGE, OPEN_SESSIONS, SCANNER_SESSION, SCAN_BARCODE, UPDATE_STATUS, UPDATE_STATUS_PROOF } from "./queries.js";

const LOCAL_DEDUP_MS = 2500; // the same code seen again within this is the same scan
const SERVER_DEDUP_MS = 8000; // server reads are sparser: a longer window
const LOCAL_INTERVAL_MS = 150;
const SERVER_INTERVAL_MS = 1200;
const SAME_FRAME_MS = 10000; // an unchanged picture after a read is not sent again for this long
const FLUSH_EVERY_MS = 5000;
const HISTORY_MAX = 30;

const $ = (id) => document.getElementById(id);
const token = requireToken();
const sessionId = new URLSearchParams(location.search).get("id");
const outbox = new Outbox();

const video = $("video");
const frame = document.createElement("canvas");
const thumb = document.createElement("canvas");
thumb.width = 32;
thumb.height = 24;

let detector = null; // BarcodeDetector, when the browser has one
let stream = null;
let loopTimer = 0;
let busy = false;
let last = { code: null, at: 0 }; // for dedup
let lastRead = { signature: null, at: 0 }; // the frame of the last server read
let flushing = false;
let wakeLock = null;
let sessionInfo = null;

// ---- session -----------------------------------------------------------------------------

function cacheKey(id) {
  return `bipa.scanner.session.${id}`;
}

function showSession(s) {
  sessionInfo = s;
  $("scan-session-name").textContent = s.name;
  document.title = `Scanner · ${s.name} — Bipa`;
  if (s.progress) showProgress(s.progress);
  $("scanner-back").href = `/sessao.html?id=${encodeURIComponent(s.id)}`;
  localStorage.setItem(cacheKey(s.id), JSON.stringify({ id: s.id, name: s.name }));
}

function showProgress(p) {
  $("scan-session-progress").textContent =
    `${plural(p.total, "pacote")} · ${percent(p.percent)}`;
  // Other parts of the page (next-stop.js) re-read what they show.
  document.dispatchEvent(new CustomEvent("bipa:session", { detail: { sessionId } }));
}

async function loadSession() {
  try {
    const data = await gql(SCANNER_SESSION, { id: sessionId });
    if (!data.session) {
      showResult({ kind: "error", title: "Sessão não encontrada", detail: "Volte e escolha outra sessão." });
      return;
    }
    showSession(data.session);
    if (data.session.isReadonly) {
      showResult({
        kind: "error",
        title: "Sessão encerrada",
        detail: "Esta sessão está concluída ou arquivada; nada mais pode ser bipado nela.",
      });
    }
  } catch (err) {
    if (err instanceof AuthError) return;
    const cached = JSON.parse(localStorage.getItem(cacheKey(sessionId)) || "null");
    if (cached) showSession(cached);
    setState("Sem rede: as bipagens ficam na fila até a conexão voltar.");
  }
}

function followProgress() {
  const client = liveClient();
  client.subscribe(
    { query: "subscription P($id: ID!) { sessionProgress(sessionId: $id) { total pending pickedUp delivered failed percent } }", variables: { id: sessionId }, retry: true },
    { next: (payload) => payload.data && showProgress(payload.data.sessionProgress) },
  );
}

async function showPicker() {
  $("session-picker").hidden = false;
  $("scan-session-name").textContent = "Scanner";
  try {
    const data = await gql(OPEN_SESSIONS);
    const open = data.sessions.edges.map((e) => e.node).filter((s) => !s.isReadonly);
    $("picker-list").replaceChildren(
      ...open.map((s) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: `/scanner.html?id=${encodeURIComponent(s.id)}`, class: "picker-item", dataset: { sessionId: s.id } },
            h("strong", {}, s.name),
            statusBadge(s.status),
            h("small", { class: "muted" }, plural(s.progress.total, "pacote")),
          ),
        ),
      ),
    );
    $("picker-empty").hidden = open.length > 0;
  } catch (err) {
    $("picker-empty").textContent = `Não foi possível listar as sessões: ${err.message}`;
    $("picker-empty").hidden = false;
  }
}

// ---- camera ------------------------------------------------------------------------------

async function makeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats || formats.length === 0) return null;
    return new window.BarcodeDetector({ formats });
  } catch {
    return null;
  }
}

function cameraMessage(text) {
  const box = $("camera-message");
  box.textContent = text;
  box.hidden = !text;
}

function setState(text) {
  $("scan-state").textContent = text;
}

async function startCamera() {
  if (stream) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cameraMessage(
      "Câmera indisponível neste navegador. No celular, abra o Bipa por HTTPS. Você ainda pode enviar uma foto ou digitar o código.",
    );
    setState("Sem câmera");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (err) {
    const why =
      err.name === "NotAllowedError"
        ? "Permissão da câmera negada. Libere a câmera nas configurações do navegador."
        : err.name === "NotFoundError" || err.name === "OverconstrainedError"
          ? "Nenhuma câmera encontrada neste aparelho."
          : err.name === "NotReadableError"
            ? "A câmera está em uso por outro aplicativo."
            : `Não foi possível abrir a câmera (${err.name || err.message}).`;
    cameraMessage(`${why} Você ainda pode enviar uma foto ou digitar o código.`);
    setState("Sem câmera");
    return;
  }
  cameraMessage("");
  video.srcObject = stream;
  try {
    await video.play();
  } catch {
    /* autoplay of a muted video is allowed; a later tap starts it otherwise */
  }
  setUpTorch();
  keepAwake();
  setState(detector ? "Procurando código…" : "Procurando código (leitura no servidor)…");
  scheduleLoop(300);
}

function stopCamera() {
  clearTimeout(loopTimer);
  loopTimer = 0;
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.srcObject = null;
  if (wakeLock) wakeLock.release().catch(() => {});
  wakeLock = null;
}

function setUpTorch() {
  const button = $("torch");
  const track = stream && stream.getVideoTracks()[0];
  const caps = track && track.getCapabilities ? track.getCapabilities() : {};
  if (!caps.torch) {
    button.hidden = true;
    return;
  }
  button.hidden = false;
  button.onclick = async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    try {
      await track.applyConstraints({ advanced: [{ torch: on }] });
      button.setAttribute("aria-pressed", String(on));
    } catch {
      button.hidden = true;
    }
  };
}

async function keepAwake() {
  try {
    if (navigator.wakeLock) wakeLock = await navigator.wakeLock.request("screen");
  } catch {
    /* optional */
  }
}

function captureFrame(maxSide = 1280) {
  const w = video.videoWidth;
  const hgt = video.videoHeight;
  if (!w || !hgt) return null;
  const scale = Math.min(1, maxSide / Math.max(w, hgt));
  frame.width = Math.round(w * scale);
  frame.height = Math.round(hgt * scale);
  frame.getContext("2d").drawImage(video, 0, 0, frame.width, frame.height);
  return frame;
}

function toBlob(canvas, type = "image/jpeg", quality = 0.92) {
  return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
}

/** A 32x24 grey thumbnail: enough to tell "the same picture" from "something moved". */
function signature(canvas) {
  const ctx = thumb.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(canvas, 0, 0, thumb.width, thumb.height);
  const px = ctx.getImageData(0, 0, thumb.width, thumb.height).data;
  const grey = new Uint8Array(thumb.width * thumb.height);
  for (let i = 0; i < grey.length; i += 1) grey[i] = (px[i * 4] * 3 + px[i * 4 + 1] * 6 + px[i * 4 + 2]) / 10;
  return grey;
}

function sameFrame(a, b) {
  if (!a || !b) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff += Math.abs(a[i] - b[i]);
  return diff / a.length < 6;
}

function scheduleLoop(delay) {
  clearTimeout(loopTimer);
  loopTimer = setTimeout(tick, delay);
}

async function tick() {
  loopTimer = 0;
  if (!stream) return;
  const auto = $("auto").checked;
  if (!auto || busy || document.hidden) {
    scheduleLoop(detector ? LOCAL_INTERVAL_MS : SERVER_INTERVAL_MS);
    return;
  }
  try {
    if (detector) await localTick();
    else await serverTick();
  } catch (err) {
    console.warn("scan loop", err);
  }
  scheduleLoop(detector ? LOCAL_INTERVAL_MS : SERVER_INTERVAL_MS);
}

async function localTick() {
  if (video.readyState < 2) return;
  const codes = await detector.detect(video);
  const found = codes.find((c) => c.rawValue);
  if (found) onLocalCode(found.rawValue, "camera", symbologyOf(found.format));
}

async function serverTick() {
  if (!navigator.onLine) {
    setState("Sem rede: leitura automática em pausa. Use “Bipar agora” ou digite o código.");
    return;
  }
  const canvas = captureFrame();
  if (!canvas) return;
  const sig = signature(canvas);
  if (sameFrame(sig, lastRead.signature) && Date.now() - lastRead.at < SAME_FRAME_MS) {
    setState("Mesmo código na mira — mova para o próximo.");
    return;
  }
  const blob = await toBlob(canvas);
  if (!blob) return;
  busy = true;
  setState("Lendo…");
  try {
    const job = makeJob({ kind: "image", blob, source: "auto" });
    if (!(await attachProof(job, true))) return;
    const outcome = await send(job);
    if (outcome.kind === "none") {
      setState("Nenhum código na imagem — aproxime e mantenha o código dentro da moldura.");
      return;
    }
    lastRead = { signature: sig, at: Date.now() };
    if (isRepeat(outcome.barcode, SERVER_DEDUP_MS)) {
      setState("Mesmo código de novo — ignorado.");
      return;
    }
    setState("Procurando código (leitura no servidor)…");
    present(job, outcome);
  } catch (err) {
    // A frame that did not make it is not worth keeping: the next one follows.
    setState(err instanceof NetworkError ? "Sem conexão com o servidor…" : `Erro: ${err.message}`);
  } finally {
    busy = false;
  }
}

/** True when `code` is the code just seen (and refreshes the window while it stays in view). */
function isRepeat(code, windowMs) {
  const now = Date.now();
  const repeat = code !== null && code === last.code && now - last.at < windowMs;
  if (code !== null) last = { code, at: now };
  return repeat;
}

function onLocalCode(raw, source, symbology = null) {
  const code = String(raw).trim();
  if (!code || isRepeat(code, LOCAL_DEDUP_MS)) return;
  process(makeJob({ kind: "code", barcode: code, symbology, source }));
}

async function shutter() {
  const canvas = captureFrame(1600);
  if (!canvas) {
    showResult({ kind: "error", title: "Câmera sem imagem", detail: "Abra a câmera, envie uma foto ou digite o código." });
    return;
  }
  if (detector) {
    try {
      const codes = await detector.detect(canvas);
      const found = codes.find((c) => c.rawValue);
      if (found) {
        last = { code: found.rawValue.trim(), at: Date.now() };
        process(makeJob({ kind: "code", barcode: found.rawValue.trim(), symbology: symbologyOf(found.format), source: "shutter" }));
        return;
      }
    } catch {
      /* the server reads it then */
    }
  }
  const blob = await toBlob(canvas);
  lastRead = { signature: signature(canvas), at: Date.now() };
  process(makeJob({ kind: "image", blob, source: "shutter" }));
}

async function fromPhoto(file) {
  let blob = file;
  try {
    // Phone photos are large: scale them down before sending.
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 2000 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    if (detector) {
      const codes = await detector.detect(canvas).catch(() => []);
      const found = codes.find((c) => c.rawValue);
      if (found) {
        process(makeJob({ kind: "code", barcode: found.rawValue.trim(), symbology: symbologyOf(found.format), source: "photo" }));
        return;
      }
    }
    blob = (await toBlob(canvas)) || file;
  } catch {
    /* send the file as it is */
  }
  process(makeJob({ kind: "image", blob, source: "photo" }));
}

// ---- proof of delivery -------------------------------------------------------------------

const proofPhotos = []; // Blobs, scaled down on the phone (the server re-encodes them anyway)
let signed = false;
let lastPosition = null;
let watchId = null;

function requirement() {
  return (sessionInfo && sessionInfo.proofRequirement) || { photo: false, signature: false };
}

function showProofPanel() {
  const delivering = $("intent").value === "DELIVER";
  $("proof").hidden = !delivering;
  const req = requirement();
  const needs = [req.photo ? "foto" : null, req.signature ? "assinatura" : null].filter(Boolean);
  $("proof-required").textContent = needs.length
    ? `Esta sessão exige ${needs.join(" e ")} para marcar entregue.`
    : "Comprovação opcional: foto, assinatura e local ajudam se o destinatário reclamar.";
  if (delivering && $("proof-place").checked) watchPlace();
  else stopPlace();
}

function watchPlace() {
  if (watchId !== null || !navigator.geolocation) return;
  watchId = navigator.geolocation.watchPosition(
    (pos) => {
      lastPosition = { latitude: pos.coords.latitude, longitude: pos.coords.longitude, accuracy: pos.coords.accuracy };
    },
    () => {
      lastPosition = null;
    },
    { enableHighAccuracy: true, maximumAge: 30000, timeout: 15000 },
  );
}

function stopPlace() {
  if (watchId !== null && navigator.geolocation) navigator.geolocation.clearWatch(watchId);
  watchId = null;
}

async function addProofPhoto(file) {
  let blob = file;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 2000 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    blob = (await toBlob(canvas, "image/jpeg", 0.9)) || file;
  } catch {
    /* HEIC and friends: sent as they are, the server reads them */
  }
  proofPhotos.push(blob);
  const url = URL.createObjectURL(blob);
  $("proof-thumbs").append(h("img", { src: url, alt: `Foto ${proofPhotos.length} da entrega`, width: 64 }));
  $("proof-thumbs").dataset.count = String(proofPhotos.length);
}

function setUpSignaturePad() {
  const pad = $("signature-pad");
  const ctx = pad.getContext("2d");
  let drawing = false;
  const at = (event) => {
    const box = pad.getBoundingClientRect();
    return [((event.clientX - box.left) * pad.width) / box.width, ((event.clientY - box.top) * pad.height) / box.height];
  };
  pad.addEventListener("pointerdown", (event) => {
    drawing = true;
    pad.setPointerCapture(event.pointerId);
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.strokeStyle = "#111";
    ctx.beginPath();
    ctx.moveTo(...at(event));
  });
  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    ctx.lineTo(...at(event));
    ctx.stroke();
    signed = true;
    pad.dataset.signed = "true";
  });
  const end = () => {
    drawing = false;
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  $("signature-clear").addEventListener("click", clearSignature);
}

function clearSignature() {
  const pad = $("signature-pad");
  pad.getContext("2d").clearRect(0, 0, pad.width, pad.height);
  signed = false;
  pad.dataset.signed = "false";
}

function resetProof() {
  proofPhotos.length = 0;
  $("proof-thumbs").replaceChildren();
  $("proof-thumbs").dataset.count = "0";
  $("received-by").value = "";
  clearSignature();
}

/** The proof a delivery takes along, or null; "missing" when the session requires more. */
async function collectProof() {
  const req = requirement();
  const missing = [req.photo && proofPhotos.length === 0 ? "a foto" : null, req.signature && !signed ? "a assinatura" : null].filter(Boolean);
  if (missing.length) return { missing };
  const signature = signed ? await toBlob($("signature-pad"), "image/png") : null;
  const receivedBy = $("received-by").value.trim() || null;
  const place = $("proof-place").checked ? lastPosition : null;
  if (!proofPhotos.length && !signature && !receivedBy && !place) return null;
  return { photos: [...proofPhotos], signature, receivedBy, location: place, capturedAt: new Date().toISOString() };
}

/** Proof as the API takes it: variables with nulls where the files go, and the files. */
function proofUpload(proof, path) {
  const files = {};
  proof.photos.forEach((blob, i) => {
    files[`${path}.photos.${i}`] = blob;
  });
  if (proof.signature) files[`${path}.signature`] = proof.signature;
  const input = {
    photos: proof.photos.map(() => null),
    signature: null,
    receivedBy: proof.receivedBy,
    location: proof.location,
    capturedAt: proof.capturedAt,
  };
  return { input, files };
}

// ---- sending -----------------------------------------------------------------------------

// BarcodeDetector's format names -> the server's symbologies: a code read as EAN/UPC must pass
// the GTIN check; a typed one (no symbology) need not.
const SYMBOLOGY = {
  ean_13: "EAN13", ean_8: "EAN8", upc_a: "UPCA", upc_e: "UPCE", itf: "ITF", code_128: "CODE128",
  code_39: "CODE39", code_93: "CODE93", codabar: "CODABAR", qr_code: "QRCODE",
  data_matrix: "DATAMATRIX", pdf417: "PDF417", aztec: "AZTEC",
};

function symbologyOf(format) {
  return SYMBOLOGY[format] || null;
}

function makeJob({ kind, barcode = null, symbology = null, blob = null, source }) {
  return {
    idempotencyKey: newIdempotencyKey(),
    sessionId,
    intent: $("intent").value,
    kind,
    barcode,
    symbology,
    blob,
    source,
    createdAt: Date.now(),
  };
}

class RetryLater extends Error {}

function errorOutcome(result, barcode) {
  const t = result.__typename;
  if (t === "OverloadedError") throw new RetryLater(result.message);
  let detail = reasonText(result.message);
  if (t === "InvalidTransitionError") {
    detail = `O pacote está “${DELIVERY_STATUS[result.from] || result.from}” e não pode ir para “${DELIVERY_STATUS[result.to] || result.to}”.`;
  }
  if (t === "ValidationError" && barcode && detail.startsWith(`${barcode}: `)) {
    return { kind: "rejected", title: "Código inválido", barcode, detail: reasonText(detail.slice(barcode.length + 2)) };
  }
  return { kind: "error", title: ERROR_TITLE[t] || t, barcode, detail };
}

const CARRIERS = {
  CORREIOS: "Correios", POSTAL: "correio estrangeiro", MERCADO_LIVRE: "Mercado Livre", SHOPEE: "Shopee",
  JADLOG: "Jadlog", AMAZON: "Amazon", LOGGI: "Loggi",
};

function carrierName(carrier) {
  return carrier ? CARRIERS[carrier] || carrier : "";
}

// What was read from the label, said as such so the operator checks it.
function labelRead(p) {
  if (!p || !p.recipientFromLabel) return "";
  const where = p.address ? [p.address.line, p.address.city, p.address.postalCode].filter(Boolean).join(", ") : "";
  return ` · lido da etiqueta (confira): ${[p.recipientName, where].filter(Boolean).join(" · ")}`;
}

function describePackage(p) {
  const parts = [DELIVERY_STATUS[p.status] || p.status];
  if (p.carrier) parts.push(carrierName(p.carrier));
  if (p.recipientName) parts.push(p.recipientName);
  if (p.address) parts.push([p.address.line, p.address.city].filter(Boolean).join(", "));
  if (p.deliverer) parts.push(`entregador: ${p.deliverer.user.name}`);
  return parts.join(" · ");
}

async function sendCode(job) {
  const code = job.barcode;
  if (job.intent === "ADD") {
    const item = job.symbology ? { barcode: code, symbology: job.symbology } : { barcode: code };
    const data = await gql(ADD_PACKAGES, { sessionId: job.sessionId, packages: [item], key: job.idempotencyKey });
    const r = data.addPackages;
    if (r.__typename !== "AddPackagesSuccess") return errorOutcome(r, code);
    if (r.session && r.session.id === sessionId) showProgress(r.session.progress);
    if (r.added.length) {
      const p = r.added[0];
      const what = [p.symbology, carrierName(p.carrier)].filter(Boolean).join(", ");
      return { kind: "added", title: "Adicionado", barcode: p.barcode, detail: what ? `Pacote ${what} na sessão` : "Pacote na sessão" };
    }
    if (r.duplicates.length) {
      return { kind: "duplicate", title: "Já estava na sessão", barcode: r.duplicates[0], detail: "Código repetido: nada foi alterado." };
    }
    const rej = r.rejected[0] || { barcode: code, reason: "" };
    return { kind: "rejected", title: "Código inválido", barcode: rej.barcode, detail: reasonText(rej.reason) };
  }
  const found = await gql(FIND_PACKAGE, { sessionId: job.sessionId, barcode: code });
  const pkg = found.package;
  if (!pkg) {
    return { kind: "notfound", title: "Não está nesta sessão", barcode: code, detail: "Nenhum pacote com este código nesta sessão." };
  }
  if (job.intent === "IDENTIFY") {
    return { kind: "identified", title: "Pacote encontrado", barcode: pkg.barcode, detail: describePackage(pkg) };
  }
  const status = job.intent === "DELIVER" ? "DELIVERED" : "PICKED_UP";
  let data;
  if (job.proof) {
    const { input, files } = proofUpload(job.proof, "input.proof");
    data = await gqlUpload(
      UPDATE_STATUS_PROOF,
      { input: { packageId: pkg.id, status, proof: input, idempotencyKey: job.idempotencyKey } },
      files,
    );
  } else {
    data = await gql(UPDATE_STATUS, { packageId: pkg.id, status, key: job.idempotencyKey });
  }
  const r = data.updatePackageStatus;
  if (r.__typename !== "PackageSuccess") return errorOutcome(r, code);
  if (r.session && r.session.id === sessionId) showProgress(r.session.progress);
  return {
    kind: status === "DELIVERED" ? "delivered" : "picked",
    title: status === "DELIVERED" ? "Entregue" : "Coletado",
    barcode: r.package.barcode,
    detail: describePackage(r.package),
  };
}

async function sendImage(job) {
  const input = { sessionId: job.sessionId, image: null, intent: job.intent, idempotencyKey: job.idempotencyKey };
  let files = { "input.image": job.blob };
  if (job.proof) {
    const upload = proofUpload(job.proof, "input.proof");
    input.proof = upload.input;
    files = { ...files, ...upload.files };
  }
  const data = await gqlUpload(SCAN_BARCODE, { input }, files);
  const r = data.scanBarcode;
  if (r.__typename !== "ScanBarcodeSuccess") return errorOutcome(r, null);
  if (r.session && r.session.id === sessionId) showProgress(r.session.progress);
  const report = r.report;
  if (!report.barcode) {
    return { kind: "none", title: "Nenhum código lido", barcode: null, detail: "Aproxime a câmera, melhore a luz e tente de novo, ou digite o código." };
  }
  const pkg = r.package;
  const how = report.symbology ? `${report.symbology}, lido no servidor` : "lido no servidor";
  if (job.intent === "ADD") {
    // A package made by this very scan keeps this scan's report; an older package does not.
    const made = pkg && pkg.scan && pkg.scan.barcode === report.barcode && pkg.scan.elapsedMs === report.elapsedMs;
    const carrier = report.carrier ? `${carrierName(report.carrier)}, ` : "";
    if (made) return { kind: "added", title: "Adicionado", barcode: report.barcode, detail: `Pacote ${carrier}${how}${labelRead(pkg)}` };
    return { kind: "duplicate", title: "Já estava na sessão", barcode: report.barcode, detail: "Código repetido: nada foi alterado." };
  }
  if (!pkg) {
    return { kind: "notfound", title: "Não está nesta sessão", barcode: report.barcode, detail: `Código ${how}, mas nenhum pacote com ele nesta sessão.` };
  }
  if (job.intent === "IDENTIFY") {
    return { kind: "identified", title: "Pacote encontrado", barcode: pkg.barcode, detail: describePackage(pkg) };
  }
  const delivered = job.intent === "DELIVER";
  return { kind: delivered ? "delivered" : "picked", title: delivered ? "Entregue" : "Coletado", barcode: pkg.barcode, detail: describePackage(pkg) };
}

function send(job) {
  return job.kind === "code" ? sendCode(job) : sendImage(job);
}

/** A delivery takes its proof along; false when the session requires proof not given yet
 * (`quiet`: the automatic reads only say so in the state line, not once per frame). */
async function attachProof(job, quiet = false) {
  if (job.intent !== "DELIVER") return true;
  const proof = await collectProof();
  if (proof && proof.missing && quiet) {
    setState(`Antes de bipar a entrega: ${proof.missing.join(" e ")} (esta sessão exige).`);
    return false;
  }
  if (proof && proof.missing) {
    present(job, {
      kind: "error",
      title: "Falta a comprovação",
      barcode: job.barcode,
      detail: `Esta sessão exige ${proof.missing.join(" e ")} para marcar entregue: ${proof.missing.length > 1 ? "colha-as" : "colha-a"} e bipe de novo.`,
    });
    return false;
  }
  job.proof = proof;
  return true;
}

/** One scan: sent now when possible, else kept in the outbox (a delivery with its proof). */
async function process(job) {
  if (!(await attachProof(job))) return;
  addHistory(job, { kind: "sending", title: "Enviando…", barcode: job.barcode });
  if (!navigator.onLine) {
    await queue(job);
    return;
  }
  try {
    present(job, await send(job));
  } catch (err) {
    if (err instanceof NetworkError || err instanceof RetryLater) await queue(job);
    else if (err instanceof AuthError) {
      /* api.js sends the visitor to the sign-in page */
    } else present(job, { kind: "error", title: "Erro", barcode: job.barcode, detail: err instanceof GraphQLRequestError ? err.message : String(err.message || err) });
  }
}

async function queue(job) {
  await outbox.put(job);
  present(job, {
    kind: "queued",
    title: "Guardado na fila",
    barcode: job.barcode,
    detail: "Sem conexão: será enviado automaticamente quando a rede voltar.",
  });
}

async function flush() {
  if (flushing || !navigator.onLine) return;
  const run = async () => {
    flushing = true;
    try {
      for (const job of await outbox.all()) {
        let outcome;
        try {
          outcome = await send(job);
        } catch (err) {
          if (err instanceof NetworkError || err instanceof RetryLater || err instanceof AuthError) return;
          outcome = { kind: "error", title: "Erro", barcode: job.barcode, detail: err.message };
        }
        await outbox.remove(job.idempotencyKey);
        present(job, { ...outcome, fromOutbox: true });
      }
    } finally {
      flushing = false;
    }
  };
  // One tab at a time sends the outbox (they share it); the keys make a race harmless anyway.
  if (navigator.locks) await navigator.locks.request("bipa-outbox", { ifAvailable: true }, (lock) => (lock ? run() : null));
  else await run();
}

// ---- showing results ---------------------------------------------------------------------

const SIGNAL = {
  added: "ok",
  delivered: "ok",
  picked: "ok",
  identified: "ok",
  duplicate: "warn",
  rejected: "error",
  error: "error",
  notfound: "error",
  none: "warn",
  queued: "queued",
};

function showResult(outcome) {
  const box = $("result");
  box.className = `result result-${outcome.kind}`;
  box.dataset.kind = outcome.kind;
  box.dataset.barcode = outcome.barcode || "";
  box.querySelector(".result-title").textContent = outcome.fromOutbox ? `${outcome.title} (enviado da fila)` : outcome.title;
  box.querySelector(".result-code").textContent = outcome.barcode || "";
  box.querySelector(".result-detail").textContent = outcome.detail || "";
  box.classList.remove("pop");
  void box.offsetWidth;
  box.classList.add("pop");
}

function present(job, outcome) {
  if (outcome.kind === "delivered" && job.proof) resetProof();
  showResult(outcome);
  addHistory(job, outcome);
  if (SIGNAL[outcome.kind]) signal(SIGNAL[outcome.kind]);
}

const SOURCE = { camera: "câmera", auto: "câmera", shutter: "foto da câmera", photo: "foto", manual: "digitado" };

function addHistory(job, outcome) {
  const list = $("history");
  const key = job.idempotencyKey;
  const old = list.querySelector(`[data-key="${CSS.escape(key)}"]`);
  const item = h(
    "li",
    { class: `history-item result-${outcome.kind}`, dataset: { key, kind: outcome.kind, barcode: outcome.barcode || job.barcode || "" } },
    h("span", { class: "history-dot", "aria-hidden": "true" }),
    h(
      "div",
      { class: "history-body" },
      h("strong", {}, outcome.fromOutbox ? `${outcome.title} · da fila` : outcome.title),
      h("code", { class: "barcode" }, outcome.barcode || job.barcode || (job.kind === "image" ? "foto" : "")),
      h("small", { class: "muted" }, `${clock(new Date(job.createdAt).toISOString())} · ${INTENT[job.intent] || job.intent} · ${SOURCE[job.source] || job.source}`),
      outcome.detail && outcome.kind !== "sending" ? h("small", { class: "history-detail" }, outcome.detail) : null,
    ),
  );
  if (old) old.replaceWith(item);
  else list.prepend(item);
  while (list.children.length > HISTORY_MAX) list.lastElementChild.remove();
  $("history-empty").hidden = list.children.length > 0;
}

function showQueueCount(n) {
  const badge = $("outbox-badge");
  badge.dataset.count = String(n);
  badge.textContent = `Na fila: ${int(n)}`;
  badge.hidden = n === 0;
}

function showNetwork() {
  const online = navigator.onLine;
  const el = $("net");
  el.className = `net ${online ? "net-online" : "net-offline"}`;
  el.dataset.online = String(online);
  el.textContent = online ? "Online" : "Sem rede";
}

// ---- wiring ------------------------------------------------------------------------------

async function main() {
  unlockAudioOnGesture();
  showNetwork();
  await outbox.open();
  outbox.onChange(showQueueCount);
  showQueueCount(await outbox.count());
  window.addEventListener("online", () => {
    showNetwork();
    flush();
  });
  window.addEventListener("offline", showNetwork);
  setInterval(flush, FLUSH_EVERY_MS);

  if (!sessionId) {
    await showPicker();
    flush();
    return;
  }
  $("scanner-ui").hidden = false;
  detector = await makeDetector();
  $("decoder").textContent = detector ? "Leitura no aparelho" : "Leitura no servidor";
  $("decoder").dataset.mode = detector ? "local" : "server";

  // The last action chosen on this phone; a deliverer starts on "Marcar entregue".
  const saved = localStorage.getItem("bipa.scanner.intent");
  const user = getUser();
  $("intent").value = saved && INTENT[saved] ? saved : user && user.role === "DELIVERER" ? "DELIVER" : "ADD";
  setUpSignaturePad();
  $("proof-photo").addEventListener("change", async (event) => {
    for (const file of event.target.files || []) await addProofPhoto(file);
    event.target.value = "";
  });
  $("proof-place").addEventListener("change", showProofPanel);
  $("intent").addEventListener("change", () => {
    showProofPanel();
    localStorage.setItem("bipa.scanner.intent", $("intent").value);
    last = { code: null, at: 0 };
    lastRead = { signature: null, at: 0 };
  });
  $("shutter").addEventListener("click", () => {
    if (!stream) startCamera();
    shutter();
  });
  $("auto").addEventListener("change", () => setState($("auto").checked ? "Procurando código…" : "Leitura automática desligada: use “Bipar agora”."));
  $("manual").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("manual-code");
    const code = input.value.trim();
    if (!code) return;
    input.value = "";
    last = { code, at: Date.now() };
    process(makeJob({ kind: "code", barcode: code, source: "manual" }));
  });
  $("photo").addEventListener("change", (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) fromPhoto(file);
    event.target.value = "";
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopCamera();
    else startCamera();
  });

  await loadSession();
  showProofPanel();
  followProgress();
  startCamera();
  flush();
}

if (token) main();
