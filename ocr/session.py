"""State of one scan: reads gathered so far, attempts, cached views, stop rule."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

import cv2
import numpy as np

from ocr import variants as vt
from ocr.decoders import NUMERIC_SYMBOLOGIES, OPENCV, ZBAR, ZXING, Read, zbar_reads, zxing_reads
from ocr.evidence import Verdict, decide, quad_centre, strongly_confirmed
from ocr.image import Gray
from ocr.manifest import Manifest
from ocr.report import ScanAttempt

# Extra decode attempts a lone expected read must stand before it ends the search.
LONE_READ_STEPS = 4


class Session:
    """One scan in progress.

    Big photos are searched on a copy downscaled to ``vt.LARGE_SIDE``: ZBar
    takes seconds on a noisy 12-megapixel picture. Only the crops around
    detected regions go back to the full resolution, for small codes.
    """

    def __init__(self, gray: Gray, manifest: Manifest, deadline: float) -> None:
        self.full = gray
        self.to_full = vt.identity()
        factor = vt.LARGE_SIDE / max(gray.shape[:2])
        if factor < 1.0:
            small = vt.scaled(gray, factor, factor)
            gray, self.to_full = small.image, small.to_orig
        self.gray = gray
        self.manifest = manifest
        self.deadline = deadline
        self.reads: list[Read] = []
        self.attempts: list[ScanAttempt] = []
        self.ocr_lines: list[str] = []
        # Tesseract's words of the whole label (text, confidence 0-100, line key), once.
        self.label_words: list[tuple[str, float, tuple[int, int, int]]] | None = None
        self._views: dict[str, vt.View] = {}
        self._regions: list[vt.Quad] | None = None
        # The lone expected read currently leading, and the attempt count when it took the lead.
        self._lone: tuple[str, int] | None = None
        self.zxing_thorough = False
        # A Tesseract call on the tracking code's printed line was made (one per scan).
        self.ocr_used = False
        # Seconds the last whole-picture call of each decoder took: a call is not started
        # when it would end past the deadline (neither library can be interrupted).
        self._cost: dict[str, float] = {}
        h, w = gray.shape[:2]
        self.centre = (w / 2.0, h / 2.0)

    # -- bookkeeping ---------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def record(self, method: str, variant: str, result: str | None, started: float) -> None:
        self.attempts.append(
            ScanAttempt(method, variant, result, (time.perf_counter() - started) * 1000.0)
        )

    def decode(
        self,
        decoder: str,
        variant: str,
        *,
        thorough: bool = False,
        view: vt.View | None = None,
        symbologies: Collection[str] = (),
        cross_check: bool = False,
    ) -> None:
        """Run one decoder on one variant (built on demand) and keep its reads.

        With ``cross_check``, a retail code this decoder alone has seen is
        handed at once to the other decoder, on the same pixels around it:
        the cheapest possible second opinion.
        """
        started = time.perf_counter()
        if view is None:
            view = self.view(variant)
        if view is None:
            return
        if decoder == ZXING:
            found = zxing_reads(view.image, variant, view.name, thorough=thorough)
            self.zxing_thorough |= thorough
        else:
            found = zbar_reads(view.image, variant, view.name, symbologies)
        self.reads.extend(
            Read(
                r.text, r.symbology, r.decoder, r.variant, r.view, vt.map_quad(r.quad, view.to_orig)
            )
            if r.quad
            else r
            for r in found
        )
        self.record(decoder, variant, found[0].text if found else None, started)
        if view.image.size >= self.gray.size // 2:
            self._cost[decoder] = time.perf_counter() - started
        if not cross_check or self.remaining() <= 0:
            return
        other = ZBAR if decoder == ZXING else ZXING
        seen_by_other = {r.text for r in self.reads if r.decoder == other}
        pending = [
            r
            for r in found
            if r.symbology in NUMERIC_SYMBOLOGIES and r.quad and r.text not in seen_by_other
        ]
        if pending:
            roi = self.roi([r.quad for r in pending if r.quad], view)
            families = {r.symbology for r in pending}
            self.decode(other, f"{variant}+roi", view=roi, symbologies=families)

    def fits(self, decoder: str) -> bool:
        """Whether a whole-picture call of ``decoder`` likely ends before the deadline."""
        return self.remaining() > self._cost.get(decoder, 0.0)

    def roi(self, quads: list[vt.Quad], view: vt.View | None = None) -> vt.View:
        """The part of ``view`` (default: the picture) around ``quads``, with quiet-zone margin."""
        if view is None:
            view = vt.View("orig", self.gray, vt.identity())
        xs = [p[0] for q in quads for p in q]
        ys = [p[1] for q in quads for p in q]
        margin = 0.35 * max(max(xs) - min(xs), max(ys) - min(ys), 16.0)
        h, w = view.image.shape[:2]
        x0, x1 = int(max(0, min(xs) - margin)), int(min(w, max(xs) + margin))
        y0, y1 = int(max(0, min(ys) - margin)), int(min(h, max(ys) + margin))
        shift = vt.identity()
        shift[0, 2], shift[1, 2] = x0, y0
        return vt.View(view.name, view.image[y0:y1, x0:x1], vt.compose(view.to_orig, shift))

    def regions(self) -> list[vt.Quad]:
        if self._regions is None:
            started = time.perf_counter()
            self._regions = vt.detect_regions(self.gray)
            self.record(OPENCV, "detect", None, started)
            if not self._regions:
                started = time.perf_counter()
                self._regions = vt.gradient_regions(self.gray)
                self.record(OPENCV, "detect-gradient", None, started)
        return self._regions

    # -- views ---------------------------------------------------------------

    def view(self, name: str) -> vt.View | None:
        if name not in self._views:
            made = self._make_view(name)
            if made is None:
                return None
            self._views[name] = made
        return self._views[name]

    def _make_view(self, name: str) -> vt.View | None:
        base, _, filt = name.partition("+")
        filters: dict[str, Callable[[Gray], Gray]] = {"clahe": vt.clahe, "sharpen": vt.sharpen}
        if filt:
            parent = self.view(base)
            if parent is None:
                return None
            return vt.View(parent.name, filters[filt](parent.image), parent.to_orig)
        gray = self.gray
        if name in {"gray", "thorough"}:
            return vt.View("orig", gray, vt.identity())
        if name == "deblur":
            return vt.deblur(gray)
        if name in {"clahe", "stretch", "thresh", "flat"}:
            photometric = {
                "clahe": vt.clahe,
                "stretch": vt.stretch,
                "thresh": vt.threshold,
                "flat": vt.flatten,
            }[name]
            return vt.View("orig", photometric(gray), vt.identity())
        if name.startswith(("upscale", "downscale")):
            f = float(name.removeprefix("up").removeprefix("down").removeprefix("scale")[:-1])
            v = vt.scaled(gray, f, f)
            return vt.View("resampled", v.image, v.to_orig)
        if name == "stretchx2":
            v = vt.scaled(gray, 2.0, 1.0)
            return vt.View("xstretch", v.image, v.to_orig)
        if name.startswith("rot"):
            return vt.rotated(gray, float(name.removeprefix("rot")))
        if name == "fullres":
            if self.full is self.gray:
                return None  # the working picture is the full one
            to_work = cv2.invertAffineTransform(self.to_full).astype(np.float64)
            return vt.View("fullres", self.full, to_work)
        if name.startswith("crop"):
            index = int(name.removeprefix("crop")) - 1
            regions = self.regions()
            if index >= len(regions):
                return None
            # Cut from the full-resolution picture; map back to the working one.
            crop = vt.warp_quad(self.full, vt.map_quad(regions[index], self.to_full), name=name)
            if crop is None:
                return None
            to_work = cv2.invertAffineTransform(self.to_full).astype(np.float64)
            return vt.View(crop.name, crop.image, vt.compose(to_work, crop.to_orig))
        raise ValueError(f"unknown variant {name!r}")

    # -- decisions -----------------------------------------------------------

    def verdict(self) -> Verdict | None:
        return decide(self.reads, self.manifest, self.centre)

    def settled(self, verdict: Verdict | None) -> bool:
        """Whether searching further could still change the answer for the better."""
        if verdict is None:
            return False
        if not verdict.names_parcel:
            # A CEP or an NF-e key was read: the label's tracking code is still to be found.
            return False
        if self.manifest and not verdict.in_expected:
            return False
        if strongly_confirmed(verdict):
            return True
        if verdict.symbology not in NUMERIC_SYMBOLOGIES and verdict.self_evident:
            # ZBar garbles non-ASCII Code 128 and full-ASCII Code 39: its lone
            # text read stands only once zxing-cpp has had its thorough look.
            return self.zxing_thorough or any(r.decoder == ZXING for r in verdict.support)
        if not verdict.self_evident:
            return self._lone_read_stood(verdict)
        return not self._more_central_region(verdict)

    def _lone_read_stood(self, verdict: Verdict) -> bool:
        """A single read that is trusted only because it is expected must survive a few steps.

        Pictures often show two codes of one item (ISBN and price code) that
        are both on the manifest; a few more cheap variants usually confirm
        the aimed-at one or surface the other, and the ranking then decides.
        """
        if self._lone is None or self._lone[0] != verdict.text:
            self._lone = (verdict.text, len(self.attempts))
        return len(self.attempts) - self._lone[1] >= LONE_READ_STEPS

    def _more_central_region(self, verdict: Verdict) -> bool:
        """A detected, still unread barcode region lies nearer the centre than the verdict.

        Pictures of books and parcels often show two codes; the one the user
        aimed at is the central one, so a weakly supported off-centre read
        should not end the search while the central one is unread.
        """
        cx, cy = self.centre
        read_quads = [r.quad for r in self.reads if r.quad]
        for region in self.regions():
            x, y = quad_centre(region)
            if ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 >= verdict.centre_distance:
                continue
            if not any(_inside(quad_centre(q), region) for q in read_quads):
                return True
        return False


def _inside(point: tuple[float, float], quad: vt.Quad) -> bool:
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return min(xs) <= point[0] <= max(xs) and min(ys) <= point[1] <= max(ys)
