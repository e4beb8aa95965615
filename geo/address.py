"""Brazilian addresses as text: CEP, UF, and the normalised form used for matching.

Pure functions, shared by the domain (equal addresses of a session share one row) and by the
geocoding cache (an address is looked up once across sessions).
"""

from __future__ import annotations

import functools
import re
import unicodedata

# The 26 states and the Federal District.
_UF_LIST = "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO"
UFS = frozenset(_UF_LIST.split(" "))

_PUNCT = re.compile(r"[^\w\s]")
_NON_DIGIT = re.compile(r"\D")

# Street types as written on labels, keyed by their folded form (accents, case and the dot
# gone): expanded only as the street's first word, where they cannot be anything else.
STREET_TYPES = {
    "r": "rua",
    "ru": "rua",
    "av": "avenida",
    "ave": "avenida",
    "avda": "avenida",
    "trav": "travessa",
    "tv": "travessa",
    "tr": "travessa",
    "al": "alameda",
    "pc": "praca",
    "pca": "praca",
    "pr": "praca",
    "rod": "rodovia",
    "est": "estrada",
    "estr": "estrada",
    "lg": "largo",
    "lgo": "largo",
    "vl": "vila",
    "jd": "jardim",
    "pq": "parque",
    "bc": "beco",
}
# Titles in street names, anywhere in it ("Av. Dr. Arnaldo", "R. Cel. Oscar Porto").
TITLES = {
    "dr": "doutor",
    "dra": "doutora",
    "prof": "professor",
    "profa": "professora",
    "eng": "engenheiro",
    "cel": "coronel",
    "gen": "general",
    "cap": "capitao",
    "ten": "tenente",
    "sta": "santa",
    "sto": "santo",
    "pres": "presidente",
    "mal": "marechal",
    "alm": "almirante",
    "gov": "governador",
    "sen": "senador",
    "dep": "deputado",
}
# Words that announce a house number ("nº 10", "n. 10", "numero 10"): dropped before digits.
NUMBER_WORDS = frozenset({"n", "no", "nº", "num", "numero", "nro"})
# "s/n", "sem número": no number.
NO_NUMBER = "sn"


# How a street type is written in full, for the providers ("R. X" -> "Rua X").
SPELLED = {
    "rua": "Rua",
    "avenida": "Avenida",
    "travessa": "Travessa",
    "alameda": "Alameda",
    "praca": "Praça",
    "rodovia": "Rodovia",
    "estrada": "Estrada",
    "largo": "Largo",
    "vila": "Vila",
    "jardim": "Jardim",
    "parque": "Parque",
    "beco": "Beco",
}
_NUMBER_PREFIX = re.compile(r"^\s*(?:n[º°o.]?|num\.?|n[úu]mero|nro\.?)\s*(?=\d)", re.IGNORECASE)


class _Marks(dict[int, str | None]):
    """str.translate's table that drops combining marks, filled as characters are met."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        kept = None if unicodedata.combining(char) else char
        self[code] = kept
        return kept


_MARKS = _Marks()


def fold(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = decomposed if decomposed.isascii() else decomposed.translate(_MARKS)
    return " ".join(_PUNCT.sub(" ", stripped.casefold()).split())


def _number_tokens(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t == "s" and nxt == "n":
            out.append(NO_NUMBER)
            i += 2
            continue
        if t == "sem" and nxt == "numero":
            out.append(NO_NUMBER)
            i += 2
            continue
        if t in NUMBER_WORDS and nxt[:1].isdigit():
            i += 1
            continue
        if t.isdigit():
            t = t.lstrip("0") or "0"
        out.append(t)
        i += 1
    return out


# Streets and cities repeat across a day's parcels: each is normalised once per process.
@functools.lru_cache(maxsize=8192)
def normalize_street(text: str) -> str:
    """A street (or a whole address line) in the form used for matching: folded, the street
    type and titles spelled out, house-number words dropped, "s/n" as `sn`."""
    tokens = fold(text).split()
    if tokens and tokens[0] in STREET_TYPES:
        tokens[0] = STREET_TYPES[tokens[0]]
    tokens = [tokens[0], *(TITLES.get(t, t) for t in tokens[1:])] if tokens else tokens
    return " ".join(_number_tokens(tokens))


def spelled_street(text: str) -> str:
    """The street as a geocoder reads it best: its type written in full, the rest as given."""
    first, _, rest = text.strip().partition(" ")
    full = STREET_TYPES.get(fold(first))
    if full is None or not rest:
        return text.strip()
    return f"{SPELLED.get(full, full.title())} {rest.strip()}"


def spelled_number(text: str | None) -> str | None:
    """The house number without "nº"; None for "s/n" or nothing."""
    if text is None or normalize_number(text) in ("", NO_NUMBER):
        return None
    return _NUMBER_PREFIX.sub("", text).strip() or None


def normalize_number(text: str | None) -> str:
    tokens = _number_tokens(fold(text or "").split())
    return " ".join(tokens)


def cep_digits(text: str | None) -> str | None:
    """The CEP's 8 digits, or None when `text` is not a CEP ("01310-100", "01.310 100")."""
    if text is None:
        return None
    if re.search(r"[^\d\s.\-]", text):
        return None
    digits = _NON_DIGIT.sub("", text)
    return digits if len(digits) == 8 else None


def format_cep(digits: str | None) -> str | None:
    """00000-000, as people write it."""
    if digits is None:
        return None
    if len(digits) != 8 or not digits.isdigit():
        return digits
    return f"{digits[:5]}-{digits[5:]}"


@functools.lru_cache(maxsize=1024)
def city_key(city: str | None, state: str | None) -> str:
    """ "São Paulo" + "SP" and "Sao Paulo/SP" are one city."""
    return fold(" ".join(p for p in (city, state) if p))


def key(
    *,
    line: str | None,
    street: str | None,
    number: str | None,
    complement: str | None,
    city: str | None,
    state: str | None,
    cep: str | None,
) -> str:
    """The matching key: `place|city|cep`. Structured addresses key on street, number and
    complement (the neighbourhood is left out: the CEP and the city already say it, and
    labels spell it in many ways); a line-only address on its line."""
    if street:
        place = " ".join(
            p
            for p in (normalize_street(street), normalize_number(number), fold(complement or ""))
            if p
        )
    else:
        place = normalize_street(line or "")
    return "|".join((place, city_key(city, state), cep or ""))


def geocode_key(
    *,
    line: str | None,
    street: str | None,
    number: str | None,
    city: str | None,
    state: str | None,
    cep: str | None,
) -> str:
    """The key of the geocoding cache: what a geocoder is asked (never the complement: two
    flats of one building are one place)."""
    return key(
        line=line, street=street, number=number, complement=None, city=city, state=state, cep=cep
    )
