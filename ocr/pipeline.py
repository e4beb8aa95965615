"""The scanning pipeline: cheapest decoders first, stop at the first trustworthy read."""

from __future__ import annotations

import time
from collections.abc import Collection

import tracking
from ocr import deconvolve, label
from ocr import variants as vt
from ocr.decoders import MANIFEST_MATCH, NUMERIC_SYMBOLOGIES, OCR, OPENCV, ZBAR, ZXING, Read
from ocr.digits import code_line, digit_strips, read_code_lines, read_lines
from ocr.evidence import PRINTED, Verdict, quad_centre, trusted
from ocr.gtin import gtin_check_ok, upce_to_upca
from ocr.image import Gray, load_gray
from ocr.manifest import Manifest, fuzzy_match
from ocr.report import FoundCode, LabelRecipient, ScanReport
from ocr.session import Session

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000

# Stage 2, ordered by decodes gained per millisecond on real photos. Views with
# another geometry come early because only they can confirm a stage-1 read.
_VARIANT_STEPS: tuple[tuple[str, str], ...] = (
    ("clahe", ZXING),
    ("resample", ZBAR),
    ("resample+clahe", ZXING),
    # Cut-outs of the detected regions, and blurred Code 128 (defocus, a shaking hand, a
    # shadow's blurred edge, see ocr/deconvolve): ~100 ms together, before the ZBar passes of
    # 150-250 ms each, which on a noisy label photo would leave them no time.
    ("crop", ""),
    ("deconv", ""),
    ("stretchx2", ZBAR),
    ("clahe", ZBAR),
    ("resample+sharpen", ZXING),
    # Blurred and shaded labels (bench/label_photos.py): cheap, and only these recover them.
    ("deblur", ZXING),
    ("flat", ZXING),
    ("fullres", ZXING),  # big photos only: small codes lost in the working copy
    ("resample+clahe", ZBAR),
    ("stretch", ZBAR),
    ("rot-15", ZBAR),
    ("rot15", ZBAR),
    ("rot-15", ZXING),
    ("rot15", ZXING),
    ("rot30", ZBAR),
    ("rot-30", ZBAR),
)
_CROP_STEPS: tuple[tuple[str, str], ...] = (
    ("", ZXING),
    ("", ZBAR),
    ("+clahe", ZXING),
    ("+sharpen", ZXING),
)
_MAX_REGIONS = 2
_MAX_STRIPS = 4
# Tesseract rarely answers faster than this; starting it with less time left wastes the rest.
_OCR_MIN_S = 0.3
# Stopping a timed-out Tesseract process takes a little time of its own.
_KILL_MARGIN_S = 0.03
_RETAIL = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})
# Characters Tesseract may add at a printed line's ends without the line ceasing to say a code.
_LINE_STRAY_CHARS = 3
_PLAIN_VARIANTS = frozenset({"gray", "roi", "thorough"})
# Tesseract on a whole label takes 0.5-1.5 s; with less left it cannot finish.
_LABEL_OCR_MIN_S = 0.6
# Reading the recipient block (ADD only) may take this long past the barcode budget.
DEFAULT_RECIPIENT_BUDGET_S = 2.0


def scan(
    image: bytes,
    expected: Collection[str] = (),
    *,
    budget_s: float = 1.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    read_recipient: bool = False,
    recipient_budget_s: float = DEFAULT_RECIPIENT_BUDGET_S,
) -> ScanReport:
    """Find the barcode in ``image`` (PNG/JPEG/... bytes).

    ``expected`` holds the codes the caller expects (a delivery manifest):
    an exact read of one of them is trusted at once, and near misses may be
    matched to the clearly closest one. Raises ImageError for bytes that are
    not a usable image; never returns a barcode it does not trust.

    On a parcel label the answer is the parcel's own code (``tracking.Role``): the CEP and
    NF-e barcodes beside it are listed in ``codes`` but never answer. ``budget_s`` bounds
    the search for a code; with ``read_recipient`` the recipient block is read too, within
    ``recipient_budget_s`` more.
    """
    started = time.perf_counter()
    if isinstance(expected, str):
        raise TypeError("expected must be a collection of codes, not a single string")
    gray = load_gray(image, max_bytes=max_bytes, max_pixels=max_pixels)
    session = Session(gray, Manifest(expected), started + budget_s)
    verdict, method = _search(session)
    ranked = trusted(session.reads, session.manifest, session.centre)
    primary = next((v for v in ranked if v.names_parcel), None)
    if primary is not None and (verdict is None or not verdict.names_parcel):
        verdict = primary
        method = _method_from_support(primary)
    elif verdict is not None and not verdict.names_parcel:
        verdict = None
    confidence = verdict.confidence if verdict else 0.0
    barcode, raw_text, carrier = _answer(verdict) if verdict else (None, None, None)
    symbology = _symbology(verdict) if verdict else None
    if verdict is None and session.manifest:
        match = _match_manifest(session)
        if match is not None:
            barcode, symbology, method, confidence = match
            raw_text, carrier = barcode, None
    recipient = None
    if read_recipient:
        recipient = _recipient(session, started + budget_s + recipient_budget_s)
    elapsed = (time.perf_counter() - started) * 1000.0
    return ScanReport(
        barcode,
        symbology,
        method if barcode else None,
        confidence,
        elapsed,
        tuple(session.attempts),
        raw_text,
        carrier,
        _codes(ranked),
        recipient,
    )


def _answer(verdict: Verdict) -> tuple[str, str, str | None]:
    """(code to report, text as decoded, carrier): known formats answer their canonical code;
    anything else is reported exactly as read."""
    ident = verdict.identity
    raw = next((r.text for r in verdict.support if r.symbology != PRINTED), verdict.text)
    if verdict.in_expected or ident is None or ident.role is tracking.Role.OTHER:
        return verdict.text, raw, None
    return ident.code, raw, ident.carrier.value if ident.carrier else None


def _symbology(verdict: Verdict) -> str:
    if verdict.symbology != PRINTED:
        return verdict.symbology
    return "CODE128"  # carrier codes are printed under their Code 128


def _codes(ranked: list[Verdict]) -> tuple[FoundCode, ...]:
    out: dict[str, FoundCode] = {}
    for v in ranked:
        ident = v.identity or tracking.identify(v.text, v.symbology)
        code = v.text if ident.role is tracking.Role.OTHER else ident.code
        if code in out:
            continue
        raw = next((r.text for r in v.support if r.symbology != PRINTED), v.text)
        out[code] = FoundCode(
            code,
            raw,
            _symbology(v),
            ident.role.value,
            ident.carrier.value if ident.carrier else None,
            v.confidence,
        )
    return tuple(out.values())


def _label_words(session: Session, deadline: float) -> list[label.Word]:
    if session.label_words is None:
        started = time.perf_counter()
        session.label_words = label.read_words(session.gray, deadline - time.perf_counter())
        shown = f"{len(session.label_words)} words" if session.label_words else None
        session.record(OCR, "label", shown, started)
    return session.label_words


def _recipient(session: Session, deadline: float) -> LabelRecipient | None:
    """The recipient block, cut out of the label under its tracking code; else the whole label.

    The cut-out is upright (deskewed by the label's outline or the code's angle), upscaled and
    binarised, with the bars painted out: Tesseract reads it in about half the time of the
    whole photo, and far better on rotated, shaded or dim labels.
    """
    codes: list[tuple[vt.Quad, bool]] = []
    tracking_quad: vt.Quad | None = None
    best_len = 0.0
    for r in session.reads:
        if r.quad is None or len(r.quad) < 4 or r.decoder == OCR:
            continue  # ZBar's scan lines (two points) say nothing of the code's height
        two_d = tracking.is_two_dimensional(r.symbology)
        codes.append((r.quad, two_d))
        if two_d or tracking.identify(r.text, r.symbology).role is not tracking.Role.TRACKING:
            continue
        _, _, length, _ = vt.axes(r.quad)
        if length > best_len:
            tracking_quad, best_len = r.quad, length
    started = time.perf_counter()
    block = label.recipient_image(session.gray, codes, tracking_quad)
    found = None
    if block is not None:
        words = label.read_block(block, deadline - time.perf_counter() - _KILL_MARGIN_S)
        found = label.recipient(words)
        session.record(OCR, "recipient-block", "found" if found else None, started)
    if found is not None or deadline - time.perf_counter() < _LABEL_OCR_MIN_S:
        return found
    if codes and block is None:
        # No outline and no Code 128 to cut by (a shadow across the label, only its QR read):
        # the whole picture, levelled by the code that was read.
        started = time.perf_counter()
        words = label.read_words(
            label.deskewed(session.gray, codes[0][0]),
            deadline - time.perf_counter() - _KILL_MARGIN_S,
        )
        found = label.recipient(words)
        session.record(OCR, "recipient-deskewed", "found" if found else None, started)
        return found
    return label.recipient(_label_words(session, deadline))


def _printed(session: Session) -> str | None:
    """Stage 4: the tracking code printed as text on the label (checked formats only)."""
    if session.remaining() < _LABEL_OCR_MIN_S or session.ocr_used:
        return None
    if not session.manifest and not any(r.symbology not in _RETAIL for r in session.reads):
        # Nothing of a label was seen (no Code 128, QR, ...): a product's picture, where the
        # digits stage reads what is printed. With an expected list the printed text is worth
        # reading anyway: a blurred label's digits can still be matched to an expected code.
        return None
    words = _label_words(session, session.deadline - _KILL_MARGIN_S)
    for code in label.printed_codes(words):
        session.reads.append(Read(code.code, PRINTED, OCR, "label", "ocr"))
    verdict = session.verdict()
    return OCR if verdict is not None and verdict.names_parcel else None


def _search(session: Session) -> tuple[Verdict | None, str | None]:
    for stage in (_plain, _variants, _printed, _digits):
        if session.remaining() <= 0:
            break
        verdict = session.verdict()
        if stage in (_printed, _digits) and verdict is not None and verdict.names_parcel:
            # A read that already stands (or is expected) is not worth a
            # Tesseract call: OCR could only confirm what is known.
            break
        method = stage(session)
        if method is not None:
            return session.verdict(), method
    verdict = session.verdict()
    return verdict, (_method_from_support(verdict) if verdict else None)


def _plain(session: Session) -> str | None:
    """Stage 1: both decoders on the untouched picture, quickest settings first."""
    session.decode(ZXING, "gray")
    if session.settled(session.verdict()):
        return ZXING
    found = [r for r in session.reads if r.symbology in NUMERIC_SYMBOLOGIES and r.quad]
    if found:
        # Confirming zxing-cpp's find only needs ZBar on that part of the
        # picture and for that family of symbologies.
        roi = session.roi([r.quad for r in found if r.quad])
        session.decode(ZBAR, "roi", view=roi, symbologies={r.symbology for r in found})
    else:
        session.decode(ZBAR, "gray")
    verdict = session.verdict()
    if not session.settled(verdict) and session.remaining() > 0:
        # zxing-cpp's own rotated, downscaled and inverted passes: inverted
        # codes escape ZBar, and big photos need the downscaling.
        session.decode(ZXING, "thorough", thorough=True)
        verdict = session.verdict()
    if session.settled(verdict):
        assert verdict is not None
        return ZXING if any(r.decoder == ZXING for r in verdict.support) else ZBAR
    return None


def _variants(session: Session) -> str | None:
    """Stage 2: OpenCV-preprocessed variants, each decoded by one decoder."""
    resampled = vt.resample_name(session.gray)
    for variant, decoder in _VARIANT_STEPS:
        if variant == "crop":
            if _crops(session):
                return OPENCV
            continue
        if variant == "deconv":
            if _deconvolved(session):
                verdict = session.verdict()
                return _method_from_support(verdict) if verdict else OPENCV
            continue
        if session.remaining() <= 0:
            return None
        if not session.fits(decoder):
            continue  # a cheaper decoder's step may still fit
        # On the full-resolution copy of a big photo a lone find is checked at
        # once by the other decoder: no later step looks at those pixels again.
        cross_check = variant == "fullres"
        session.decode(decoder, variant.replace("resample", resampled), cross_check=cross_check)
        if session.settled(session.verdict()):
            return OPENCV
    return None


def _crops(session: Session) -> bool:
    """Deskewed, upscaled cut-outs of the regions OpenCV's detector finds."""
    if session.remaining() <= 0:
        return False
    for index in range(min(_MAX_REGIONS, len(session.regions()))):
        for suffix, decoder in _CROP_STEPS:
            if session.remaining() <= 0:
                return False
            session.decode(decoder, f"crop{index + 1}{suffix}")
            if session.settled(session.verdict()):
                return True
    return False


def _deconvolved(session: Session) -> bool:
    """Stage 2b: the tallest 1D regions' profiles deconvolved, then their printed line.

    The tracking code is the label's biggest 1D symbol: its bars are the tallest (the NF-e
    key's are longer but low, the CEP's short). A read made here stands only with its own
    check (S10, NF-e), the expected list, or the same text printed under the bars, read by
    one Tesseract call on that line's pictures.
    """
    if session.remaining() <= 0:
        return False
    regions = sorted(session.regions(), key=lambda q: vt.axes(q)[3], reverse=True)
    regions = [q for q in regions if vt.axes(q)[2] >= 2.0 * vt.axes(q)[3]][:_MAX_REGIONS]
    blurs: dict[str, tuple[vt.Quad, list[deconvolve.Blur]]] = {}
    for region in regions:
        if session.remaining() <= 0:
            return False
        started = time.perf_counter()
        found = deconvolve.profile(session.gray, region)
        texts = deconvolve.decode(found) if found is not None else {}
        for text, hypotheses in texts.items():
            session.reads.append(
                Read(text, "CODE128", ZXING, deconvolve.DECONV, deconvolve.DECONV, region)
            )
            blurs.setdefault(text, (region, hypotheses))
        session.record(OPENCV, deconvolve.DECONV, next(iter(texts), None), started)
        if session.settled(session.verdict()):
            return True
    return _code_line(session, regions, blurs)


def _code_line(
    session: Session,
    regions: list[vt.Quad],
    blurs: dict[str, tuple[vt.Quad, list[deconvolve.Blur]]],
) -> bool:
    """Tesseract on the line printed under the tracking code's bars: confirms a deconvolved
    read when it says the same, or (with an expected list) names an expected code.

    The line went through the same blur as the bars: it is deconvolved by the blurs that read
    them (a defocus' Gaussian, a motion's 2D path: ocr.deconvolve.printed_lines), all its
    pictures read by one Tesseract call.
    """
    if session.remaining() < _OCR_MIN_S or session.ocr_used:
        return False
    pending = [text for text in blurs if tracking.identify(text, "CODE128").identifies_parcel]
    verdict = session.verdict()
    started = time.perf_counter()
    if pending:
        region, hypotheses = blurs[pending[0]]
        imgs = deconvolve.printed_lines(session.gray, region, hypotheses)
    elif (
        regions
        and (verdict is None or not verdict.names_parcel)
        and any(_printed_as_code128(c) for c in session.manifest.codes)
    ):
        # A list of products' GTINs: the digits stage reads their printed digits instead.
        img = code_line(session.gray, regions[0])
        imgs = [img] if img is not None else []
    else:
        return False
    session.ocr_used = True
    lines = read_code_lines(imgs, session.remaining() - _KILL_MARGIN_S)
    checked = {c.code for line in lines for c in tracking.find_in_text(line)}
    said = None
    for line in lines:
        said = next((t for t in pending if _says(line, t)), None)
        if said is None and (line in checked or session.manifest.lookup(line) is not None):
            said = line
        if said is not None:
            session.reads.append(Read(said, PRINTED, OCR, "code-line", "ocr"))
            break
    session.record(OCR, "code-line", said or (lines[0] if lines else None), started)
    return session.settled(session.verdict())


def _says(line: str, text: str) -> bool:
    """The printed line reads ``text``, give or take a few stray marks at its ends (the bars'
    remnants above it, a shadow's edge beside it read as letters)."""
    return text in line and len(line) - len(text) <= _LINE_STRAY_CHARS


def _printed_as_code128(code: str) -> bool:
    """An expected code that a carrier prints in Code 128, with its text under the bars."""
    return tracking.identify(code).role is not tracking.Role.PRODUCT and not (
        code.isdigit() and len(code) in (8, 12, 13) and gtin_check_ok(code)
    )


def _digits(session: Session) -> str | None:
    """Stage 3: Tesseract on the digits printed under EAN/UPC bars."""
    if session.remaining() < _OCR_MIN_S or session.ocr_used:
        return None
    reads = session.reads
    if reads and not any(r.symbology in _RETAIL for r in reads):
        return None  # a QR/Code 128 picture: no human-readable GTIN to read
    started = time.perf_counter()
    # Where decoders saw a retail code (in any view, mapped back), then what
    # OpenCV's detector finds.
    regions: list[tuple[vt.Quad, str | None]] = [
        (r.quad, r.symbology) for r in reads if r.symbology in _RETAIL and r.quad
    ]
    regions += [(q, None) for q in session.regions()]
    strips: list[Gray] = []
    used: list[vt.Quad] = []
    for region, symbology in regions:
        if len(used) >= _MAX_REGIONS or len(strips) >= _MAX_STRIPS:
            break
        if any(_inside(quad_centre(region), u) for u in used):
            continue
        used.append(region)
        found = digit_strips(session.full, vt.map_quad(region, session.to_full), symbology)
        strips.extend(found[: _MAX_STRIPS - len(strips)])
    lines = read_lines(strips, timeout_s=session.remaining() - _KILL_MARGIN_S)
    session.ocr_lines = lines
    texts = [t for line in lines for t in _gtin_reads(line)]
    for text, symbology in texts:
        session.reads.append(Read(text, symbology, OCR, "strip", "ocr"))
    shown = texts[0][0] if texts else (lines[0] if lines else None)
    session.record(OCR, "strip", shown, started)
    return OCR if session.settled(session.verdict()) else None


def _gtin_reads(line: str) -> list[tuple[str, str]]:
    """Every retail code a line of printed digits can stand for (checksum-valid only)."""
    if len(line) == 13 and gtin_check_ok(line):
        return [(line[1:], "UPCA") if line.startswith("0") else (line, "EAN13")]
    if len(line) == 12 and gtin_check_ok(line):
        return [(line, "UPCA")]
    if len(line) == 8:
        # The printed digits do not say whether the bars are EAN-8 or UPC-E.
        out = [(line, "EAN8")] if gtin_check_ok(line) else []
        upca = upce_to_upca(line)
        if upca is not None and gtin_check_ok(upca):
            out.append((line, "UPCE"))
        return out
    return []


def _match_manifest(session: Session) -> tuple[str, str | None, str, float] | None:
    """Stage 4: snap untrusted reads and OCR text to the clearly closest expected code."""
    started = time.perf_counter()
    candidates = [r.text for r in session.reads]
    # A QR's JSON or URL is far from the code it carries: compare the code itself.
    candidates += [tracking.identify(r.text, r.symbology).code for r in session.reads]
    candidates += session.ocr_lines
    if session.label_words:
        # The human-readable line under the bars is printed in groups ("OB 515 947 899 BR").
        for line, _ in label.lines(session.label_words):
            candidates.append(line.replace(" ", "").upper())
            candidates.extend(t.upper() for t in line.split() if len(t) >= 6)
    match = fuzzy_match(candidates, session.manifest)
    session.record(MANIFEST_MATCH, "edit-distance", match.code if match else None, started)
    if match is None:
        return None
    symbology = next((r.symbology for r in session.reads if r.text == match.source), None)
    if symbology is None:
        symbology = _guess_symbology(match.code)
    confidence = 0.8 if match.distance <= 1 else 0.6
    return match.code, symbology, MANIFEST_MATCH, confidence


def _guess_symbology(code: str) -> str | None:
    if not code.isdigit():
        return None
    if gtin_check_ok(code):
        return {8: "EAN8", 12: "UPCA", 13: "EAN13", 14: "ITF"}.get(len(code))
    upca = upce_to_upca(code)
    return "UPCE" if upca is not None and gtin_check_ok(upca) else None


def _method_from_support(verdict: Verdict) -> str:
    plain = [r for r in verdict.support if r.variant in _PLAIN_VARIANTS]
    if plain:
        return ZXING if any(r.decoder == ZXING for r in plain) else ZBAR
    if any(r.decoder == OCR for r in verdict.support):
        return OCR
    return OPENCV


def _inside(point: tuple[float, float], quad: vt.Quad) -> bool:
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return min(xs) <= point[0] <= max(xs) and min(ys) <= point[1] <= max(ys)
