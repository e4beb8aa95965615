"""Tesseract on a whole parcel label: the codes printed as text, and the recipient block.

One call gives both: the printed tracking code (evidence for, or instead of, its bars) and the
recipient's name and address. Everything read here is personal data: it goes into the report
only, never into a log line.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import cv2
import pytesseract  # type: ignore[import-untyped,unused-ignore]

import tracking
from ocr.report import LabelRecipient
from ocr.variants import Gray

Word = tuple[str, float, tuple[int, int, int]]  # text, confidence 0-100, (block, par, line)

# Label text is 2-3 mm tall: about 1400 px across a label keeps it legible without making
# Tesseract read every pixel of a 12-megapixel photo.
_OCR_SIDE = 1400
_UFS = frozenset(
    "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split()  # noqa: SIM905
)
_STREET_WORDS = (
    "rua",
    "r.",
    "av",
    "av.",
    "avenida",
    "travessa",
    "tv.",
    "alameda",
    "al.",
    "estrada",
    "rodovia",
    "praca",
    "largo",
    "viela",
)
_CEP = re.compile(r"(?<!\d)(\d{5})\s?[-.]?\s?(\d{3})(?!\d)")
_CITY_UF = re.compile(r"([^\d/,-][^/,]*?)\s*[/-]\s*([A-Z]{2})\b")
_NUMBER = re.compile(r"^(.*?)[,\s]+(?:n[º°o.]?\s*)?(\d{1,6}[A-Z]?|S/?N)\b\s*[-,]?\s*(.*)$", re.I)


@functools.cache
def _lang() -> str:
    try:
        langs = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, OSError, RuntimeError):
        return "eng"
    return "por" if "por" in langs else "eng"


def read_words(gray: Gray, timeout_s: float) -> list[Word]:
    """Every word Tesseract finds on the label; [] on timeout or failure."""
    if timeout_s <= 0.1:
        return []
    h, w = gray.shape[:2]
    factor = min(1.0, _OCR_SIDE / max(h, w))
    img = gray if factor >= 1.0 else cv2.resize(gray, None, fx=factor, fy=factor)
    try:
        data = pytesseract.image_to_data(
            img,
            lang=_lang(),
            config="--psm 3",
            output_type=pytesseract.Output.DICT,
            timeout=timeout_s,
        )
    except (RuntimeError, pytesseract.TesseractError, OSError):
        # RuntimeError is pytesseract's timeout; OSError a missing binary.
        return []
    words: list[Word] = []
    for i, item in enumerate(data["text"]):
        text = str(item).strip()
        conf = float(data["conf"][i])
        if text and conf >= 0:
            key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
            words.append((text, conf, key))
    return words


def lines(words: list[Word]) -> list[tuple[str, float]]:
    """Words joined into lines, in reading order, each with its mean confidence (0-1)."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        grouped.setdefault(word[2], []).append(word)
    out: list[tuple[str, float]] = []
    for key in sorted(grouped):
        ws = grouped[key]
        out.append((" ".join(w[0] for w in ws), sum(w[1] for w in ws) / (100.0 * len(ws))))
    return out


def printed_codes(words: list[Word]) -> list[tracking.Code]:
    return tracking.find_in_text("\n".join(text for text, _ in lines(words)))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _is_street(text: str) -> bool:
    first = _fold(text).split(" ", 1)[0]
    return first in _STREET_WORDS


def recipient(words: list[Word]) -> LabelRecipient | None:
    """The block after "DESTINATÁRIO", up to the sender's block; None without that heading.

    Without the heading the sender's address could be taken for the recipient's: better no
    address than a wrong one.
    """
    text_lines = lines(words)
    start = next((i for i, (t, _) in enumerate(text_lines) if "destinat" in _fold(t)), None)
    if start is None:
        return None
    heading = text_lines[start][0]
    block: list[tuple[str, float]] = []
    # "DESTINATÁRIO: Maria Silva" on one line.
    after = re.split(r"destinat[aá]rio\s*:?", heading, maxsplit=1, flags=re.I)
    if len(after) == 2 and after[1].strip():
        block.append((after[1].strip(), text_lines[start][1]))
    for t, c in text_lines[start + 1 :]:
        folded = _fold(t)
        if "remetente" in folded or "devolu" in folded:
            break
        block.append((t, c))
        if _CEP.search(t) and len(block) >= 2:
            break
    return _parse_block(block)


def _parse_block(block: list[tuple[str, float]]) -> LabelRecipient | None:
    if not block:
        return None
    name = street = number = complement = neighbourhood = city = state = cep = None
    used: list[float] = []
    rest: list[tuple[str, float]] = []
    for t, c in block:
        m = _CEP.search(t)
        if m and cep is None:
            cep = m.group(1) + m.group(2)
            used.append(c)
            tail = (t[: m.start()] + " " + t[m.end() :]).strip(" -,")
            cu = _CITY_UF.search(tail)
            if cu and cu.group(2) in _UFS:
                city, state = cu.group(1).strip(" -,"), cu.group(2)
            continue
        cu = _CITY_UF.search(t)
        if cu and cu.group(2) in _UFS and city is None and street is not None:
            city, state = cu.group(1).strip(" -,"), cu.group(2)
            used.append(c)
            continue
        if street is None and _is_street(t):
            used.append(c)
            m2 = _NUMBER.match(t)
            if m2:
                street, number = m2.group(1).strip(" ,"), m2.group(2).upper()
                complement = m2.group(3).strip(" -,") or None
            else:
                street = t.strip()
            continue
        rest.append((t, c))
    if rest and street is not None:
        name_line = rest[0]
        name = name_line[0].strip(" :")
        used.append(name_line[1])
        if len(rest) > 1:
            neighbourhood = rest[1][0].strip(" -,")
            used.append(rest[1][1])
    elif rest:
        name = rest[0][0].strip(" :")
        used.append(rest[0][1])
    fields = [name, street, number, neighbourhood, city, cep]
    if sum(f is not None for f in fields) < 2:
        return None
    filled = sum(f is not None for f in fields) / len(fields)
    mean_conf = sum(used) / len(used) if used else 0.0
    return LabelRecipient(
        name, street, number, complement, neighbourhood, city, state, cep, mean_conf * filled
    )
