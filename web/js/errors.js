// The result unions' errors in Portuguese, chosen by their stable `code` (the English
// `message` is for API clients and logs). A code missing here (one the domain adds later)
// still gets a sentence by the error's type; tests/web/test_static.py holds every code of the
// domain to a text here.

import { DELIVERY_STATUS, SESSION_STATUS } from "./format.js";

/** @type {Record<string, string | ((e: object) => string)>} */
export const ERROR_TEXT = {
  // who may do what
  UNAUTHENTICATED: "Sua sessão expirou: entre de novo com o seu token.",
  PERMISSION_DENIED: "Você não tem permissão para fazer isso.",
  MANAGERS_ONLY: "Só gestores e administradores podem fazer isso.",
  NOT_SESSION_MANAGER: "Só quem criou a sessão (ou um administrador) pode alterá-la.",
  SESSION_HIDDEN: "Você não tem acesso a esta sessão.",
  NOT_YOUR_PACKAGE: "Este pacote não está atribuído a você.",
  CANNOT_CREATE_ROLE: "Você não pode criar usuários com esse perfil.",
  // what is not there
  NOT_FOUND: "Não encontrado.",
  SESSION_NOT_FOUND: "Sessão não encontrada.",
  PACKAGE_NOT_FOUND: "Pacote não encontrado nesta sessão.",
  PACKAGE_NOT_IN_SESSION: "Este pacote não está nesta sessão.",
  USER_NOT_FOUND: "Usuário não encontrado.",
  DELIVERER_NOT_IN_SESSION: "Esta pessoa não é entregadora desta sessão.",
  RECIPIENT_NOT_FOUND: "Destinatário não encontrado.",
  WEBHOOK_NOT_FOUND: "Webhook não encontrado.",
  DELIVERY_NOT_FOUND: "Entrega de webhook não encontrada.",
  // background jobs: manifests and reports
  JOB_NOT_FOUND: "Tarefa não encontrada.",
  JOB_TRANSITION: "Esta tarefa já terminou: não dá mais para cancelá-la.",
  JOB_NOT_RUNNING: "Esta tarefa não está mais em andamento.",
  JOBS_DISABLED: "Importações e relatórios não estão disponíveis neste servidor.",
  MANIFEST_TOO_LARGE: "O arquivo é grande demais para importar.",
  FILE_TOO_LARGE: "O arquivo é grande demais para importar.",
  TOO_MANY_ROWS: "O arquivo tem linhas demais para uma importação: divida-o em partes.",
  NOT_A_SPREADSHEET: "O arquivo não é uma planilha CSV ou XLSX.",
  UNSAFE_ARCHIVE: "O arquivo XLSX parece corrompido ou perigoso e foi recusado.",
  NO_TRACKING_COLUMN: "A planilha não tem uma coluna de código de rastreio.",
  EMPTY: "A planilha está vazia.",
  // users and deliverers
  NOT_A_DELIVERER: "Só usuários entregadores podem entrar na sessão como entregadores.",
  DELIVERER_EXISTS: "Este entregador já está na sessão.",
  TELEGRAM_ID_UNKNOWN: "Ninguém usa este Telegram no Bipa ainda.",
  TELEGRAM_ID_INVALID: "O id do Telegram deve ser numérico (ex.: 123456789).",
  TELEGRAM_ID_TAKEN: "Este Telegram já está vinculado a outro usuário.",
  NAME_EMPTY: "O nome não pode ficar vazio.",
  NAME_TOO_LONG: "O nome é longo demais.",
  AMOUNT_INVALID: (e) => `${fieldName(e, "O valor")} deve ser um valor como 12,50.`,
  AMOUNT_NEGATIVE: (e) => `${fieldName(e, "O valor")} não pode ser negativo.`,
  AMOUNT_CENTS: (e) => `${fieldName(e, "O valor")} pode ter no máximo dois decimais (centavos).`,
  AMOUNT_TOO_LARGE: (e) => `${fieldName(e, "O valor")} é grande demais.`,
  // sessions
  SESSION_EMPTY: "A sessão precisa de pelo menos um pacote para começar.",
  SESSION_READ_ONLY: "Esta sessão já foi concluída e agora é somente leitura.",
  SESSION_TRANSITION: (e) => `Não dá para fazer isso com a sessão ${statusWord(e.from)}.`,
  INVALID_TRANSITION: (e) => `Mudança não permitida (${statusWord(e.from)} → ${statusWord(e.to)}).`,
  SESSION_NOT_ADDABLE: (e) => `Não dá para adicionar pacotes com a sessão ${statusWord(e.from)}.`,
  SESSION_NOT_ACTIVE: (e) => `A sessão está ${statusWord(e.from)}: isso só vale com ela em andamento.`,
  SESSION_NOT_OPEN: "Isso só é possível antes de a sessão começar.",
  PACKAGES_STILL_OPEN: "Ainda há pacotes sem entrega ou falha: conclua forçando para marcá-los como falha.",
  // packages
  NOTHING_TO_ASSIGN: "Nenhum pacote para atribuir.",
  TOO_MANY_PACKAGES: "Pacotes demais de uma vez.",
  PACKAGE_ALREADY_FINAL: "Um dos pacotes já foi entregue ou teve falha registrada.",
  PACKAGE_TRANSITION: (e) => `Este pacote já está ${statusWord(e.from)}.`,
  REASON_REQUIRED: "Informe o motivo da falha.",
  REASON_TOO_LONG: "O motivo é longo demais.",
  RECIPIENT_TOO_LONG: "O nome do destinatário é longo demais.",
  ADDRESS_EMPTY: "O endereço não pode ficar vazio.",
  ADDRESS_TOO_LONG: "O endereço é longo demais.",
  POSTAL_CODE_TOO_LONG: "O CEP é longo demais.",
  COORDINATE_OUT_OF_RANGE: "Coordenadas fora do intervalo válido.",
  FORGET_WHICH: "Informe o pacote ou o destinatário a esquecer.",
  // proof of delivery
  PROOF_PHOTO_REQUIRED: "Esta sessão exige foto da entrega.",
  PROOF_SIGNATURE_REQUIRED: "Esta sessão exige a assinatura de quem recebeu.",
  PROOF_NOT_ALLOWED: "A comprovação vai junto com a entrega ou com a falha.",
  PROOF_TOO_MANY_PHOTOS: "Fotos demais para uma entrega.",
  PROOF_TEXT_TOO_LONG: "Texto longo demais.",
  PROOF_BAD_LOCATION: "A localização recebida não é válida.",
  PROOF_RESEND: "A foto enviada antes não foi encontrada: envie de novo.",
  // barcodes
  BARCODE_CHECK_DIGIT: "O dígito verificador do código não confere.",
  TRACKING_CHECK_DIGIT: "O dígito verificador do código de rastreio não confere.",
  BARCODE_NOT_ASCII: "O código tem caracteres que não existem em códigos de barras.",
  BARCODE_TOO_LONG: "O código é longo demais.",
  BARCODE_EMPTY: "O código está vazio.",
  // webhooks
  WEBHOOKS_DISABLED: "Webhooks estão desativados neste servidor.",
  NO_EVENTS: "Escolha pelo menos um evento.",
  TOO_MANY_EVENTS: "Eventos demais.",
  UNKNOWN_EVENT: "Evento desconhecido.",
  URL_REFUSED: "Este endereço de webhook não é aceito.",
  // addresses, geocoding and routes
  ADDRESS_NOT_FOUND: "Endereço não encontrado nesta sessão.",
  ADDRESS_STREET_REQUIRED: "Informe a rua do endereço.",
  CEP_INVALID: "O CEP deve ter 8 dígitos (ex.: 01310-100).",
  UF_INVALID: "A UF deve ser a sigla de um estado (ex.: SP).",
  NO_DELIVERERS: "A sessão ainda não tem entregadores: adicione pelo menos um.",
  DEPOT_NOT_SET: "O ponto de saída (depósito) não foi configurado: fale com o administrador.",
  NO_GEOCODED_PACKAGES: "Nenhum pacote em aberto tem endereço localizado: localize os endereços antes.",
  ROUTE_CAPACITY_EXCEEDED: "Há mais pacotes do que os entregadores conseguem levar: adicione entregadores ou aumente a capacidade.",
  ROUTE_CAPACITY_INVALID: "A capacidade de cada entregador deve ser de pelo menos 1 pacote.",
  ROUTE_BALANCE_INVALID: "O equilíbrio entre entregadores deve ficar entre 0 e 10.",
  ROUTE_TIMEOUT_INVALID: "O tempo de cálculo deve ficar entre 0,1 e 60 segundos.",
  ROUTE_TIME_NAIVE: "Informe os horários com o fuso (ex.: 08:00-03:00).",
  ROUTE_SOLVER_TIMEOUT: "O cálculo das rotas demorou demais: tente de novo com mais tempo ou menos pacotes.",
  ROUTE_SOLVER_FAILED: "Não foi possível calcular as rotas agora. Tente de novo.",
  // the runner and the scanner
  INVALID_INPUT: "Dados inválidos.",
  INVALID_IMAGE: "Imagem inválida.",
  OVERLOADED: "Servidor ocupado: tente de novo em instantes.",
  IDEMPOTENCY_CONFLICT: "Este pedido já foi feito com outro conteúdo; tente de novo.",
  IDEMPOTENCY_KEY_INVALID: "Chave de repetição inválida.",
  IDEMPOTENCY_ANSWER_LOST: "Este pedido já foi feito, mas a resposta não pode mais ser mostrada (a chave do servidor mudou).",
  IDEMPOTENCY_UNAVAILABLE: "Este servidor não consegue repetir este pedido com segurança: envie sem chave de repetição.",
  DOMAIN_ERROR: "Não foi possível concluir a operação.",
};

// By the union member's type, for a code not listed above.
const BY_TYPE = {
  NotFoundError: "Não encontrado.",
  ValidationError: "Dados inválidos.",
  InvalidTransitionError: "Mudança de status não permitida.",
  ReadOnlySessionError: ERROR_TEXT.SESSION_READ_ONLY,
  PermissionDeniedError: ERROR_TEXT.PERMISSION_DENIED,
  IdempotencyConflictError: ERROR_TEXT.IDEMPOTENCY_CONFLICT,
  ImageError: ERROR_TEXT.INVALID_IMAGE,
  OverloadedError: ERROR_TEXT.OVERLOADED,
};

const FIELDS = {
  baseSalary: "O salário base",
  commissionPerDelivery: "A comissão por entrega",
  name: "O nome",
};

function fieldName(e, fallback) {
  return FIELDS[e.field] || fallback;
}

function statusWord(status) {
  const label = SESSION_STATUS[status] || DELIVERY_STATUS[status];
  return label ? label.toLowerCase() : String(status ?? "?").toLowerCase();
}

/** A result union's error member (`__typename`, `code`, `message`, ...) in Portuguese. */
export function errorText(error) {
  const text = ERROR_TEXT[error.code] ?? BY_TYPE[error.__typename];
  if (typeof text === "function") return text(error);
  return text || "Não foi possível concluir a operação.";
}
