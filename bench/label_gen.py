"""Deterministic generator of phone photos of Brazilian parcel labels (bench/label_photos.py).

Each label carries what real ones do: the carrier's tracking code as a Code 128 with its
human-readable text, a 2D code (Mercado Livre's QR JSON, a tracking URL, the Correios
DataMatrix), the destination CEP as an 8-digit Code 128, the NF-e access key, sometimes a
product EAN-13 sticker, the recipient and the sender blocks. Barcodes are written by
zxing-cpp; text by Pillow with DejaVu (found through fontconfig, else Pillow's own font).
Photos then get one damage each: perspective, rotation, blur, motion blur, glare, shadow,
low light, crumples, JPEG, noise, or several at once.

Everything comes from one ``random.Random(seed)``: the same seed gives the same bytes.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp  # type: ignore[import-untyped,unused-ignore]
from PIL import Image, ImageDraw, ImageFont

from tracking.checks import nfe_check_digit, s10_check_digit

Img = npt.NDArray[np.uint8]

CARRIERS = ("CORREIOS", "MERCADO_LIVRE", "SHOPEE", "JADLOG", "AMAZON", "LOGGI")
DAMAGES = (
    "clean",
    "perspective",
    "rotation",
    "blur",
    "motion",
    "glare",
    "shadow",
    "lowlight",
    "crumple",
    "jpeg",
    "noise",
    "hard",
)
FIRST = ("Maria", "João", "Ana", "Francisco", "Juliana", "Carlos", "Patrícia", "Luiz", "Beatriz")
LAST = ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida")
STREETS = (
    "Rua das Flores",
    "Avenida Paulista",
    "Rua Augusta",
    "Rua XV de Novembro",
    "Avenida Brasil",
    "Rua São Bento",
    "Travessa do Comércio",
    "Alameda Santos",
)
HOODS = ("Jardim Paulista", "Centro", "Vila Mariana", "Boa Vista", "Moema", "Santa Cecília")
CITIES = (
    ("São Paulo", "SP"),
    ("Rio de Janeiro", "RJ"),
    ("Belo Horizonte", "MG"),
    ("Curitiba", "PR"),
    ("Porto Alegre", "RS"),
    ("Recife", "PE"),
)


@dataclass(frozen=True)
class Label:
    carrier: str
    tracking: str  # the canonical code the package must get
    code128: str  # what the Code 128 says
    two_d: str | None  # the 2D payload
    two_d_format: str  # "QRCode" / "DataMatrix"
    cep: str
    nfe: str
    ean: str | None
    name: str
    street: str
    number: str
    complement: str
    hood: str
    city: str
    uf: str


@dataclass(frozen=True)
class Photo:
    label: Label
    damage: str
    data: bytes  # JPEG bytes
    # What was actually done to the photo: "hard" draws three of the other damages.
    damages: frozenset[str] = frozenset()

    @property
    def in_focus(self) -> bool:
        """Text on the label is sharp enough to read (the CEP target counts only these)."""
        return not (self.damages & {"blur", "motion"})


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _ean13(rng: random.Random) -> str:
    body = "789" + _digits(rng, 9)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def make_label(rng: random.Random, carrier: str) -> Label:
    city, uf = rng.choice(CITIES)
    cep = f"{rng.randint(1000, 99999):05d}{rng.randint(0, 999):03d}"
    nfe_body = (
        "35" + "2411" + _digits(rng, 14) + "55" + "001" + _digits(rng, 9) + "1" + _digits(rng, 8)
    )
    nfe = nfe_body + str(nfe_check_digit(nfe_body))
    two_d_format = "QRCode"
    if carrier == "CORREIOS":
        serial = _digits(rng, 8)
        tracking = (
            rng.choice(("AA", "OB", "QB", "NL", "JT"))
            + serial
            + str(s10_check_digit(serial))
            + "BR"
        )
        code128 = tracking
        # The Correios DataMatrix packs CEPs, the code and more; nothing we key by.
        two_d = f"{cep}00000{cep}0000{tracking}01{_digits(rng, 20)}"
        two_d_format = "DataMatrix"
    elif carrier == "MERCADO_LIVRE":
        tracking = "4" + _digits(rng, 10)
        code128 = tracking
        sender = rng.randint(10**8, 10**9)
        token = "".join(rng.choice("abcdefABCDEF0123456789+/") for _ in range(24))
        two_d = json.dumps(
            {"id": tracking, "sender_id": sender, "hash_code": token, "security_digit": "0"},
            separators=(",", ":"),
        )
    elif carrier == "SHOPEE":
        tracking = "BR" + _digits(rng, 13) + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        code128 = tracking
        two_d = f"https://spx.com.br/track?{tracking}"
    elif carrier == "JADLOG":
        tracking = _digits(rng, 14)
        code128 = tracking
        two_d = None
    elif carrier == "AMAZON":
        tracking = "TBA" + _digits(rng, 12)
        code128 = tracking
        two_d = None
    else:  # LOGGI
        tracking = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))
        code128 = f"https://www.loggi.com/rastreador/{tracking}"
        two_d = code128
    return Label(
        carrier=carrier,
        tracking=tracking,
        code128=code128 if carrier != "LOGGI" else tracking,
        two_d=two_d,
        two_d_format=two_d_format,
        cep=cep,
        nfe=nfe,
        ean=_ean13(rng) if rng.random() < 0.35 else None,
        name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}",
        street=rng.choice(STREETS),
        number=str(rng.randint(1, 3999)),
        complement=rng.choice(("", "Apto 12", "Casa 2", "Bloco B", "Sala 301")),
        hood=rng.choice(HOODS),
        city=city,
        uf=uf,
    )


@cache
def _font_path(bold: bool) -> str | None:
    """A DejaVu font through fontconfig (no path of one machine written down)."""
    if shutil.which("fc-match") is None:
        return None
    name = "DejaVu Sans:bold" if bold else "DejaVu Sans"
    out = subprocess.run(
        ["fc-match", "-f", "%{file}", name], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or None


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path(bold)
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _barcode(text: str, fmt: str, module: int) -> Image.Image:
    barcode = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt))
    img = np.asarray(barcode.to_image(scale=module))
    return Image.fromarray(img).convert("L")


def _spaced(label: Label) -> str:
    """The tracking code as printed under its bars: "JT 124 720 455 BR" on Correios labels."""
    code = label.tracking
    if label.carrier == "CORREIOS":
        return f"{code[:2]} {code[2:5]} {code[5:8]} {code[8:11]} {code[11:]}"
    if len(code) > 15:
        return code
    return " ".join(code[i : i + 3] for i in range(0, len(code), 3))


def render_label(label: Label, rng: random.Random) -> Img:
    """A 100 x 150 mm label at about 8 px/mm (a 203 dpi thermal printer's output)."""
    w, h = 800, 1200
    page = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((6, 6, w - 7, h - 7), outline=0, width=3)
    header = {
        "CORREIOS": "Correios  SEDEX",
        "MERCADO_LIVRE": "Mercado Envios",
        "SHOPEE": "Shopee Xpress",
        "JADLOG": "Jadlog .Package",
        "AMAZON": "Amazon Logistics",
        "LOGGI": "Loggi",
    }[label.carrier]
    draw.text((30, 24), header, font=_font(40, True), fill=0)
    if label.two_d:
        two_d = _barcode(
            label.two_d, label.two_d_format, 5 if label.two_d_format == "QRCode" else 6
        )
        two_d.thumbnail((230, 230))
        page.paste(two_d, (w - 30 - two_d.width, 20))
    # The tracking code: the biggest Code 128 of the label, text under it.
    bars = _barcode(label.code128, "Code128", 3)
    bars = bars.resize((min(720, bars.width), 150))
    y = 270
    page.paste(bars, ((w - bars.width) // 2, y))
    spaced = _spaced(label)
    draw.text((w // 2, y + 160), spaced, font=_font(34, True), fill=0, anchor="mt")
    y += 220
    draw.line((20, y, w - 20, y), fill=0, width=2)
    body = _font(28)
    draw.text((30, y + 12), "DESTINATÁRIO", font=_font(26, True), fill=0)
    street = f"{label.street}, {label.number}" + (
        f" {label.complement}" if label.complement else ""
    )
    lines = [
        label.name,
        street,
        label.hood,
        f"{label.cep[:5]}-{label.cep[5:]} {label.city}/{label.uf}",
    ]
    for i, line in enumerate(lines):
        draw.text((30, y + 50 + i * 36), line, font=body, fill=0)
    cep_bars = _barcode(label.cep, "Code128", 3).resize((260, 90))
    page.paste(cep_bars, (w - 290, y + 200))
    y += 310
    draw.line((20, y, w - 20, y), fill=0, width=2)
    nfe_bars = _barcode(label.nfe, "Code128", 2).resize((700, 70))
    page.paste(nfe_bars, (50, y + 14))
    key = " ".join(label.nfe[i : i + 4] for i in range(0, 44, 4))
    draw.text((w // 2, y + 90), key, font=_font(18), fill=0, anchor="mt")
    y += 130
    draw.line((20, y, w - 20, y), fill=0, width=2)
    draw.text((30, y + 10), "REMETENTE", font=_font(22, True), fill=0)
    draw.text((30, y + 42), "Loja Exemplo Ltda - Rua do Porto, 99", font=_font(22), fill=0)
    draw.text((30, y + 72), "04567-000 São Paulo/SP", font=_font(22), fill=0)
    if label.ean:
        ean = _barcode(label.ean, "EAN13", 2)
        page.paste(ean, (w - ean.width - 30, h - ean.height - 20))
    return np.asarray(page, dtype=np.uint8).copy()


def _background(rng: random.Random, w: int, h: int) -> Img:
    """A brown cardboard box top with some texture."""
    base = np.full((h, w), rng.randint(120, 170), np.float32)
    noise = cv2.GaussianBlur(
        np.random.default_rng(rng.randint(0, 2**31)).normal(0, 18, (h, w)).astype(np.float32),
        (0, 0),
        3,
    )
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def photograph(label_img: Img, damage: str, rng: random.Random) -> tuple[bytes, frozenset[str]]:
    """The label placed on a box and photographed by a phone, with ``damage``.

    Returns the JPEG bytes and the damages applied (several for "hard").
    """
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    W, H = 1600, 1200
    photo = _background(rng, W, H)
    lh, lw = label_img.shape
    scale = rng.uniform(0.85, 0.95) * H / lh
    damages = {damage} if damage != "hard" else set(rng.sample(DAMAGES[1:-1], 3))
    angle = rng.uniform(-6, 6)
    if "rotation" in damages:
        angle = rng.choice((-1, 1)) * rng.uniform(20, 60)
    src = np.float32([[0, 0], [lw, 0], [lw, lh], [0, lh]])
    cx, cy = W / 2 + rng.uniform(-60, 60), H / 2 + rng.uniform(-30, 30)
    rot = cv2.getRotationMatrix2D((0, 0), angle, scale)
    corners = (src - [lw / 2, lh / 2]) @ rot[:, :2].T + [cx, cy]
    if "perspective" in damages:
        corners += nrng.uniform(-90, 90, corners.shape)
    else:
        corners += nrng.uniform(-12, 12, corners.shape)
    m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    label = label_img.astype(np.float32)
    if "crumple" in damages:
        # Folds: shading bands and small displacements across the label.
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        fx, fy = rng.uniform(0.01, 0.03), rng.uniform(0.01, 0.03)
        dx = 3.0 * np.sin(yy * fy + rng.uniform(0, 6))
        dy = 3.0 * np.sin(xx * fx + rng.uniform(0, 6))
        label = cv2.remap(label, xx + dx, yy + dy, cv2.INTER_LINEAR, borderValue=255)
        label *= 1.0 - 0.18 * (0.5 + 0.5 * np.sin(xx * fx * 3 + yy * fy * 2))
    mask = cv2.warpPerspective(np.ones((lh, lw), np.float32), m, (W, H))
    warped = cv2.warpPerspective(label, m, (W, H))
    out = photo.astype(np.float32) * (1 - mask) + warped * mask
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if "shadow" in damages:
        edge = rng.uniform(0.3, 0.7) * W
        out *= np.where(xx + 0.4 * yy < edge, 0.45, 1.0)
        out = cv2.GaussianBlur(out, (0, 0), 2)
    if "glare" in damages:
        gx, gy = rng.uniform(0.3, 0.7) * W, rng.uniform(0.2, 0.6) * H
        r = rng.uniform(120, 220)
        out += 200 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r))
    if "lowlight" in damages:
        out = out * rng.uniform(0.18, 0.3) + 8
    if "blur" in damages:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(2.0, 3.0))
    else:
        out = cv2.GaussianBlur(out, (0, 0), 0.8)  # a phone lens is never perfectly sharp
    if "motion" in damages:
        k = rng.randint(11, 17)
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rotk = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rotk, (k, k))
        out = cv2.filter2D(out, -1, kernel / max(kernel.sum(), 1e-6))
    sigma = rng.uniform(14, 22) if "noise" in damages else 3.0
    out += nrng.normal(0, sigma, out.shape)
    gray = np.clip(out, 0, 255).astype(np.uint8)
    quality = rng.randint(18, 30) if "jpeg" in damages else 88
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="JPEG", quality=quality)
    return buf.getvalue(), frozenset(damages)


def photos(seed: int = 13, per_cell: int = 1) -> list[Photo]:
    """``per_cell`` photos for each carrier and damage, the same for the same seed."""
    rng = random.Random(seed)
    out: list[Photo] = []
    for carrier in CARRIERS:
        for damage in DAMAGES:
            for _ in range(per_cell):
                label = make_label(rng, carrier)
                data, applied = photograph(render_label(label, rng), damage, rng)
                out.append(Photo(label, damage, data, applied))
    return out
