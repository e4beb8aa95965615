"""Match reads against the barcodes expected in a delivery session.

Two uses: an exact read of an expected code is trusted on its own, and an
untrusted or partial read (one wrong digit from the decoder, a digit lost by
OCR) may be snapped to an expected code by edit distance when exactly one
code is clearly the closest.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ocr.gtin import upca_to_upce, upce_to_upca

# Second-closest code must be at least this much farther than the closest.
MARGIN = 2


def equivalent_forms(code: str) -> set[str]:
    """The spellings under which the same retail code can be printed or decoded."""
    forms = {code}
    if not (code.isascii() and code.isdigit()):
        return forms
    if len(code) == 8:
        upca = upce_to_upca(code)
        if upca is not None:
            forms.update({upca, "0" + upca})
    elif len(code) == 12 or (len(code) == 13 and code.startswith("0")):
        upca = code[-12:]
        forms.update({upca, "0" + upca})
        # The same GTIN may be printed as the short UPC-E symbol.
        upce = upca_to_upce(upca)
        if upce is not None:
            forms.add(upce)
    return forms


class Manifest:
    """Expected codes indexed by every equivalent spelling."""

    def __init__(self, expected: Collection[str]) -> None:
        self._by_form: dict[str, str] = {}
        self.codes: tuple[str, ...] = tuple(dict.fromkeys(c for c in expected if c))
        for code in self.codes:
            for form in equivalent_forms(code):
                self._by_form.setdefault(form, code)

    def __bool__(self) -> bool:
        return bool(self.codes)

    def lookup(self, text: str) -> str | None:
        """The expected code that ``text`` spells exactly (in any equivalent form)."""
        return self._by_form.get(text)


@dataclass(frozen=True)
class FuzzyMatch:
    code: str
    distance: int
    runner_up: int
    source: str


def max_distance(code: str) -> int:
    # One error per ~6 characters: a misread digit plus a dropped one on a
    # 13-digit code, but only a single error on short codes.
    return 1 if len(code) <= 8 else 2


def bounded_levenshtein(a: str, b: str, bound: int) -> int:
    """Edit distance, or ``bound + 1`` as soon as it is known to exceed ``bound``."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        if min(current) > bound:
            return bound + 1
        previous = current
    return previous[-1]


def fuzzy_match(candidates: Iterable[str], manifest: Manifest) -> FuzzyMatch | None:
    """The single expected code clearly closest to one of ``candidates``, if any."""
    texts = [t for t in dict.fromkeys(candidates) if len(t) >= 6]
    if not texts or not manifest:
        return None
    # Distances beyond this can neither win nor block the winner.
    cap = 2 + MARGIN
    best: list[tuple[int, str, str]] = []
    for code in manifest.codes:
        forms = equivalent_forms(code)
        dist, source = cap + 1, ""
        for text in texts:
            for form in forms:
                d = bounded_levenshtein(text, form, cap)
                if d < dist:
                    dist, source = d, text
        if dist <= cap:
            best.append((dist, code, source))
    if not best:
        return None
    best.sort()
    d1, code, source = best[0]
    d2 = best[1][0] if len(best) > 1 else cap + 1
    if d1 > max_distance(code) or d2 < d1 + MARGIN:
        return None
    return FuzzyMatch(code, d1, d2, source)
