"""Everything the bot says to people (Brazilian Portuguese) and how it formats values.

Kept apart from the handlers so that wording is reviewed in one place and the handlers stay
about flow. Code, identifiers and logs stay in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db.enums import DeliveryStatus, Role, SessionStatus

MAX_MESSAGE = 4000  # Telegram refuses messages over 4096 characters; keep a margin.
BAR_CELLS = 10


def _local_zone() -> tzinfo:
    # Operators read times in Brasília time; a machine without tzdata still shows UTC.
    try:
        return ZoneInfo("America/Sao_Paulo")
    except ZoneInfoNotFoundError:
        return UTC


LOCAL_ZONE = _local_zone()

SESSION_STATUS = {
    SessionStatus.OPEN: "Aberta",
    SessionStatus.ACTIVE: "Em andamento",
    SessionStatus.PAUSED: "Pausada",
    SessionStatus.COMPLETED: "Concluída",
    SessionStatus.ARCHIVED: "Arquivada",
}
PACKAGE_STATUS = {
    DeliveryStatus.PENDING: "Pendente",
    DeliveryStatus.PICKED_UP: "Em rota",
    DeliveryStatus.DELIVERED: "Entregue",
    DeliveryStatus.FAILED: "Falhou",
}
ROLE = {
    Role.ADMIN: "Administrador(a)",
    Role.MANAGER: "Gerente",
    Role.DELIVERER: "Entregador(a)",
}

HELP = "\n".join(
    [
        "🤖 Bipa no Telegram: os mesmos dados e regras do sistema.",
        "",
        "Sessões (gerentes e administradores)",
        "/sessions: menu (nova sessão, minhas sessões, reutilizar uma aberta)",
        "/nova NOME: cria uma sessão e a torna a sessão atual deste chat",
        (
            "📷 foto do código de barras (ou o código digitado): adiciona o pacote enquanto a "
            "sessão está Aberta; com a sessão Em andamento, mostra a situação do pacote"
        ),
        "/entregadores: lista os entregadores da sessão atual",
        (
            "/entregadores TELEGRAM_ID SALÁRIO COMISSÃO [NOME]: adiciona um entregador (ex.: "
            "/entregadores 123456789 100 2,50 João Silva). Se ninguém usa esse Telegram "
            "ainda, informe o NOME para cadastrá-lo como entregador."
        ),
        (
            "/atribuir TELEGRAM_ID [CÓDIGOS...]: atribui ao entregador os pacotes informados, "
            "ou todos os pacotes ainda sem entregador"
        ),
        "/start_session: inicia as entregas da sessão atual",
        (
            "/comprovacao [foto] [assinatura] ou /comprovacao nenhuma: o que a entrega precisa "
            "trazer como comprovação na sessão atual"
        ),
        "",
        "Entregas (entregadores)",
        (
            "📷 foto do código (ou o código digitado): marca o pacote como entregue na sua "
            "sessão em andamento"
        ),
        (
            "/falha CÓDIGO MOTIVO: marca o pacote como não entregue (ex.: /falha "
            "7891000315507 destinatário ausente)"
        ),
        (
            "📍 localização compartilhada e 📷 foto da entrega: a comprovação, quando a sessão "
            "exige (o bot pede)"
        ),
        "",
        "Para todos",
        "/proxima: a próxima parada da sua rota (endereço e pacotes)",
        "/session_dashboard: progresso, contadores e ganhos de cada entregador",
        "/historico: sessões concluídas (somente leitura)",
        "/start: quem sou eu no Bipa",
        "/help: esta ajuda",
    ]
)

UNKNOWN_USER = (
    "🚫 Esta conta do Telegram (id {telegram_id}) não está vinculada a nenhum usuário do "
    "Bipa, então nada foi feito.\n"
    "Peça a um administrador para vinculá-la com:\n"
    "bipa users link-telegram --user-id <seu id no Bipa> --telegram-id {telegram_id}"
)
INTERNAL_ERROR = (
    "😕 Algo deu errado do nosso lado e nada foi alterado. Tente de novo em instantes; "
    "se continuar, avise o administrador."
)
NO_SESSION_MANAGER = (
    "Você ainda não tem uma sessão atual neste chat. Crie uma com /nova NOME ou escolha "
    "uma em /sessions."
)
NO_SESSION_DELIVERER = (
    "Você não participa de nenhuma sessão em andamento agora. Quando o gerente iniciar a "
    "sessão, envie as fotos das entregas aqui."
)
NOT_UNDERSTOOD = (
    "Não entendi. Envie a foto do código de barras, digite o código ou use /help para ver "
    "os comandos."
)
UNREADABLE_PHOTO = (
    "📷 Não consegui ler um código de barras nesta foto. Tente assim:\n"
    "• aproxime a câmera até o código ocupar boa parte da foto;\n"
    "• deixe o código reto e inteiro na imagem, sem cortar as barras;\n"
    "• evite reflexo, sombra e foto tremida (boa luz ajuda muito);\n"
    "• ou digite os números do código numa mensagem."
)
INVALID_IMAGE = (
    "📷 Não consegui abrir esta imagem. Envie como foto (JPG ou PNG) e não como outro tipo "
    "de arquivo, ou digite o código numa mensagem."
)
PHOTO_TOO_LARGE = "📷 Esta imagem é grande demais (máximo de 15 MB). Envie uma foto menor."
DOWNLOAD_FAILED = "📷 Não consegui baixar a foto do Telegram. Envie de novo em instantes."
SCANNER_BUSY = "⏳ O leitor de códigos está ocupado agora. Envie a foto de novo em alguns segundos."
USAGE_NOVA = "Use: /nova NOME (ex.: /nova Rota Centro manhã)"
USAGE_FALHA = "Use: /falha CÓDIGO MOTIVO (ex.: /falha 7891000315507 destinatário ausente)"
USAGE_ENTREGADORES = (
    "Para adicionar: /entregadores TELEGRAM_ID SALÁRIO COMISSÃO [NOME]\n"
    "ex.: /entregadores 123456789 100 2,50 João Silva"
)
USAGE_ATRIBUIR = (
    "Use: /atribuir TELEGRAM_ID [CÓDIGOS...] (sem códigos: todos os pacotes sem entregador)"
)
MANAGERS_ONLY = "Só gerentes e administradores podem fazer isso."
SESSIONS_MENU = "📋 Sessões: o que você quer fazer?"
BUTTON_NEW = "🆕 Nova sessão"
BUTTON_MINE = "📂 Minhas sessões"
BUTTON_REUSE = "♻️ Reutilizar uma aberta"


def clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return text[: MAX_MESSAGE - 2] + "\n…"


def brl(value: Decimal | str | None) -> str:
    """R$ 1.234,50: Brazilian grouping, comma decimals, never through float."""
    try:
        amount = Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        return str(value)
    grouped = f"{amount:,.2f}"  # 1,234.50
    return "R$ " + grouped.replace(",", "_").replace(".", ",").replace("_", ".")


def parse_money(raw: str) -> str:
    """A Brazilian-typed amount ("2,50", "R$ 1.234,56", "100") as a domain decimal string.

    The domain validates the result (negative, more than two decimals...): this only turns
    the local notation into the canonical one.
    """
    text = raw.strip().upper().removeprefix("R$").strip()
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    return text


NEXT_STOP_NOT_DELIVERER = "Você não é entregador(a) nesta sessão: não há rota sua aqui."
NEXT_STOP_NO_ROUTE = "Sua rota ainda não foi definida nesta sessão: fale com o gerente."
NEXT_STOP_DONE = "✅ Nenhuma parada em aberto na sua rota. Bom trabalho!"


def clock(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%H:%M")


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M")


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def progress_bar(done: int, total: int) -> str:
    # Floor, so 100% only shows once every package is final.
    percent = (100 * done // total) if total else 0
    filled = (BAR_CELLS * done // total) if total else 0
    return f"[{'█' * filled}{'░' * (BAR_CELLS - filled)}] {percent}%"


def earnings_lines(snapshot: Mapping[str, Any]) -> list[str]:
    """One line per deliverer of a financial snapshot, with how the total was reached."""
    lines = []
    for d in snapshot.get("deliverers", []):
        lines.append(
            f"• {d['name']}: {brl(d['baseSalary'])} + {d['delivered']} x "
            f"{brl(d['commissionPerDelivery'])} = {brl(d['totalEarned'])}"
        )
    return lines or ["• nenhum entregador na sessão"]


def completion(name: str, snapshot: Mapping[str, Any]) -> str:
    lines = [
        f"🏁 Sessão {name} concluída!",
        f"Entregues: {snapshot.get('delivered', 0)} | Falhas: {snapshot.get('failed', 0)}",
        "Ganhos:",
        *earnings_lines(snapshot),
        f"Custo total: {brl(snapshot.get('totalCost'))}",
    ]
    return "\n".join(lines)


CARRIERS = {
    "CORREIOS": "Correios",
    "POSTAL": "correio estrangeiro",
    "MERCADO_LIVRE": "Mercado Livre",
    "SHOPEE": "Shopee",
    "JADLOG": "Jadlog",
    "AMAZON": "Amazon",
    "LOGGI": "Loggi",
}


def carrier_name(carrier: str) -> str:
    return CARRIERS.get(carrier, carrier)


# Proof of delivery.
PROOF_PHOTO_ASK = (
    "📷 A sessão exige foto da entrega do pacote {barcode}: envie agora a foto do pacote "
    "entregue. Se puder, compartilhe também a sua localização (📎 > Localização)."
)
PROOF_PLACE_OK = "📍 Localização recebida: vai junto com a comprovação da entrega."
PROOF_PLACE_THEN_PHOTO = (
    "📍 Localização recebida. Agora envie a foto da entrega do pacote {barcode}."
)
USAGE_COMPROVACAO = (
    "Use: /comprovacao foto, /comprovacao assinatura, /comprovacao foto assinatura ou "
    "/comprovacao nenhuma"
)
PROOF_REQUIREMENT = "Comprovação exigida na sessão {session}: {what}."
PROOF_NOTHING = "nenhuma"
PROOF_PHOTO = "foto"
PROOF_SIGNATURE = "assinatura"
