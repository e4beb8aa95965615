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
import numpy as np
import numpy.typing as npt
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
    img: Gray = gray if factor >= 1.0 else cv2.resize(gray, None, fx=factor, fy=factor)  # type: ignore[assignment]
    return _words(img, timeout_s, "--psm 3")


def _words(img: Gray, timeout_s: float, config: str) -> list[Word]:
    if timeout_s <= 0.1:
        return []
    try:
        data = pytesseract.image_to_data(
            img,
            lang=_lang(),
            config=config,
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
    after_street: list[tuple[str, float]] = []
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
        (after_street if street is not None else rest).append((t, c))
    if street is not None:
        # Brazilian order: name, street and number, neighbourhood, CEP city/UF.
        if rest:
            name = rest[-1][0].strip(" :")
            used.append(rest[-1][1])
        if after_street:
            neighbourhood = after_street[0][0].strip(" -,")
            used.append(after_street[0][1])
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


# -- the recipient block, found on the label ---------------------------------------------------

Quad = tuple[tuple[float, float], ...]
# The upright label is warped to this width: 2-3 mm text then stands ~30 px tall, where
# Tesseract's LSTM reads best, whatever the photo's resolution.
_LABEL_W = 1000
# Shipping labels are 100 x 150 mm (4 x 6 in); a bright region far from that shape is a
# shadow's edge or a glare patch merged with the label, not the label.
_LABEL_ASPECT = (1.15, 1.95)
_MIN_LABEL_AREA = 0.08


def find_label(gray: Gray) -> Quad | None:
    """The label's four corners (tl, tr, br, bl, upright: the long side vertical), or None.

    The label is the largest bright, roughly rectangular region; of the four ways to read it
    as a portrait, the one needing the least rotation is taken (a phone is held about
    upright).
    """
    h, w = gray.shape[:2]
    factor = 600.0 / max(h, w)
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 3)
    _, mask = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    if cv2.contourArea(hull) < _MIN_LABEL_AREA * small.size:
        return None
    approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    if len(approx) == 4:
        pts = approx.reshape(4, 2).astype(np.float64)
    else:
        pts = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float64)
    pts /= factor
    centre = pts.mean(axis=0)
    pts = pts[np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))]
    best: tuple[float, npt.NDArray[np.float64]] | None = None
    for k in range(4):
        p = np.roll(pts, -k, axis=0)
        top, left = p[1] - p[0], p[3] - p[0]
        bottom, right = p[2] - p[3], p[2] - p[1]
        aspect = float(np.hypot(*left)) / max(float(np.hypot(*top)), 1.0)
        if not _LABEL_ASPECT[0] <= aspect <= _LABEL_ASPECT[1]:
            continue
        # Perspective shortens one side of a rectangle only so much; a trapezoid beyond that
        # is a shadow's edge cutting the label.
        sides = (np.hypot(*top), np.hypot(*bottom), np.hypot(*left), np.hypot(*right))
        if min(sides[0], sides[1]) < 0.7 * max(sides[0], sides[1]) or min(
            sides[2], sides[3]
        ) < 0.7 * max(sides[2], sides[3]):
            continue
        tilt = abs(float(np.degrees(np.arctan2(top[1], top[0]))))
        if tilt > 100:
            continue  # upside down: nobody photographs a label that way round
        if best is None or tilt < best[0]:
            best = (tilt, p)
    if best is None:
        return None
    return tuple((float(x), float(y)) for x, y in best[1])


def _inside_quad(point: tuple[float, float], quad: Quad) -> bool:
    contour = np.asarray(quad, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, point, False) >= 0


def _frame_from_code(code: Quad) -> npt.NDArray[np.float64]:
    """Three points (tl, tr, bl) of the label's frame guessed from its tracking Code 128.

    Without the label's outline the code says enough: its bars are upright on the label and
    its height is about a fifth of the label's width; the recipient block lies under it.
    """
    pts = np.asarray(code, dtype=np.float64)
    centre = pts.mean(axis=0)
    proj_u = pts - centre
    # The long axis of the code is the label's x axis; keep it left to right.
    e01, e12 = pts[1] - pts[0], pts[2] - pts[1]
    along = e01 if np.hypot(*e01) >= np.hypot(*e12) else e12
    u = along / (float(np.hypot(*along)) or 1.0)
    if u[0] < 0:
        u = -u
    v = np.array([-u[1], u[0]])
    if v[1] < 0:
        v = -v
    half_h = float(np.abs(proj_u @ v).max())
    height = max(2.0 * half_h, 8.0)
    width = 5.3 * height
    top_left = centre - u * width / 2 - v * height * 1.6
    return np.array([top_left, top_left + u * width, top_left + v * width * 1.5])


def recipient_image(
    gray: Gray, codes: list[tuple[Quad, bool]], tracking_quad: Quad | None
) -> Gray | None:
    """The label, upright and binarised, cut to the part under its tracking code.

    ``codes`` are the decoded symbols (quad, whether 2D) in ``gray``'s pixels: they are
    painted out, since bars read as rows of "I" and "l" and break the text into bogus lines.
    """
    quad = find_label(gray)
    if quad is not None and tracking_quad is not None:
        cx = sum(p[0] for p in tracking_quad) / len(tracking_quad)
        cy = sum(p[1] for p in tracking_quad) / len(tracking_quad)
        if not _inside_quad((cx, cy), quad):
            quad = None  # the outline found is not this code's label
    out_h = round(_LABEL_W * 1.5)
    if quad is not None:
        src = np.asarray(quad, dtype=np.float32)
        dst = np.array([[0, 0], [_LABEL_W, 0], [_LABEL_W, out_h], [0, out_h]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
    elif tracking_quad is not None:
        frame = _frame_from_code(tracking_quad).astype(np.float32)
        dst = np.array([[0, 0], [_LABEL_W, 0], [0, out_h]], dtype=np.float32)
        m = np.vstack([cv2.getAffineTransform(frame, dst), [0.0, 0.0, 1.0]])
    else:
        return None
    upright = cv2.warpPerspective(
        gray, m, (_LABEL_W, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    for code, _ in codes:
        pts = cv2.perspectiveTransform(np.asarray(code, dtype=np.float64).reshape(-1, 1, 2), m)
        x, y, bw, bh = cv2.boundingRect(pts.astype(np.float32))
        pad = 12
        cv2.rectangle(upright, (x - pad, y - pad), (x + bw + pad, y + bh + pad), 255, -1)
    top = round(0.28 * out_h)
    if tracking_quad is not None:
        pts = cv2.perspectiveTransform(
            np.asarray(tracking_quad, dtype=np.float64).reshape(-1, 1, 2), m
        )
        top = int(min(max(float(pts[:, 0, 1].max()), 0.1 * out_h), 0.5 * out_h))
    crop: Gray = upright[top : round(0.8 * out_h)]  # type: ignore[assignment]
    return binarise(crop)


def binarise(gray: Gray) -> Gray:
    """Black text on white, whatever the light: shadows, glare, low light, crumple shading.

    Dividing by the page's own brightness (a closing wider than any stroke) flattens the
    illumination; Otsu then splits ink from paper.
    """
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    background = cv2.morphologyEx(smooth, cv2.MORPH_CLOSE, np.ones((31, 31), np.uint8))
    flat = cv2.divide(smooth, np.maximum(background, 1), scale=255)
    _, out = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    result: Gray = out  # type: ignore[assignment]
    return result


def read_block(img: Gray, timeout_s: float) -> list[Word]:
    """Tesseract on a cut-out text block (psm 6: one block of uniform text)."""
    return _words(img, timeout_s, "--psm 6")


def deskewed(gray: Gray, code: Quad) -> Gray:
    """The whole picture turned so that ``code``'s edges (and so its label's) are level.

    A code's sides are parallel to its label's whatever the symbology; of the four ways to
    level them, the smallest turn is taken.
    """
    pts = np.asarray(code, dtype=np.float64)
    edge = pts[1] - pts[0]
    angle = float(np.degrees(np.arctan2(edge[1], edge[0])))
    angle = (angle + 45.0) % 90.0 - 45.0
    h, w = gray.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    turned: Gray = cv2.warpAffine(  # type: ignore[assignment]
        gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return binarise(turned)
