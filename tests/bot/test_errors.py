"""Every error code of the domain has a Portuguese text in the bot, or a reason it has none."""

from __future__ import annotations

import re

import pytest

from bot import errors
from domain import errors as d
from tests.conftest import ROOT

# How the domain names its codes: `code="X"`, a class's `default_code = "X"`, and the codes
# of rejected barcodes (`Rejected(barcode, "X", ...)`).
PATTERNS = [
    re.compile(r'\bcode\s*=\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'\bdefault_code(?:\s*:\s*ClassVar\[str\])?\s*=\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'\bRejected\(\s*\w+\s*,\s*"([A-Z][A-Z0-9_]*)"'),
]
# Values of every param a domain error carries, for rendering the texts.
PARAMS = {
    "barcode": "7891000315507",
    "status": "DELIVERED",
    "entity": "session",
    "from": "ACTIVE",
    "to": "OPEN",
    "max": "200",
    "length": "13",
    "count": "2",
    "role": "MANAGER",
    "parcels": "120",
    "capacity": "100",
}


def domain_codes() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "domain").rglob("*.py")):
        source = path.read_text()
        for pattern in PATTERNS:
            found.update(pattern.findall(source))
    return found


def _subclasses(cls: type[d.DomainError]) -> list[type[d.DomainError]]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


# A code that is a class's default is raised without a more specific one: the fallback by
# type answers it.
BY_TYPE = {c.default_code: c for c in _subclasses(d.DomainError) if c.__module__ == d.__name__}


def test_the_scan_of_the_domain_finds_its_codes() -> None:
    # A broken pattern would find nothing and the test below would pass on nothing.
    codes = domain_codes()
    assert {"SESSION_NOT_FOUND", "NOT_YOUR_PACKAGE", "BARCODE_CHECK_DIGIT"} <= codes
    assert {"NOT_FOUND", "SESSION_READ_ONLY", "OVERLOADED"} <= codes
    assert len(codes) > 40


def test_every_domain_code_is_worded_or_deliberately_unreachable() -> None:
    codes = domain_codes()
    missing = sorted(
        c
        for c in codes
        if c not in errors.TEXTS and c not in errors.UNREACHABLE and c not in BY_TYPE
    )
    assert missing == [], f"codes without a Portuguese text in bot/errors.py: {missing}"
    both = sorted(set(errors.TEXTS) & set(errors.UNREACHABLE))
    assert both == [], f"both worded and called unreachable: {both}"
    # The lists name real codes only: a renamed code must not leave a stale entry behind.
    stale = sorted((set(errors.TEXTS) | set(errors.UNREACHABLE)) - codes)
    assert stale == [], f"codes the domain does not have: {stale}"


@pytest.mark.parametrize("code", sorted(errors.TEXTS))
def test_each_text_renders_in_portuguese(code: str) -> None:
    exc = d.ValidationFailed("an English message", field="baseSalary", code=code, params=PARAMS)
    text = errors.translate(exc)
    assert text.startswith("⚠️ ") and "{" not in text and "English" not in text
    assert text != "⚠️ " + errors._by_type(exc), "fell back instead of using its text"


# One error of each class raised with its default code, as the domain raises them.
DEFAULTS: list[d.DomainError] = [
    d.DomainError("an English message"),
    d.NotFound("an English message"),
    d.ValidationFailed("an English message"),
    d.InvalidTransition("session", "ACTIVE", "ACTIVE"),
    d.PermissionDenied("an English message"),
    d.ReadOnlySession("s1", "COMPLETED"),
    d.IdempotencyConflict(),
    d.InvalidImage("an English message"),
    d.Overloaded(),
]


def test_default_codes_are_answered_by_type() -> None:
    assert {e.code for e in DEFAULTS} == set(BY_TYPE)
    for exc in DEFAULTS:
        text = errors.translate(exc)
        assert text.startswith("⚠️ ") and "English" not in text and "{" not in text
    specific = [e for e in DEFAULTS if type(e) is not d.DomainError]
    assert all(errors.translate(e) != "⚠️ Não foi possível fazer isso agora." for e in specific)


def test_texts_follow_codes_not_english_messages() -> None:
    refused = d.ValidationFailed("whatever the domain says today", code="REASON_REQUIRED")
    assert "Informe o motivo da falha" in errors.translate(refused)
    other = d.NotFound("package not found", code="SOMETHING_NEW")  # a code without a text
    assert errors.translate(other) == "⚠️ Não encontrei o que você pediu. Confira e tente de novo."


def test_params_fill_the_texts() -> None:
    final = d.ValidationFailed(
        "x", code="PACKAGE_ALREADY_FINAL", params={"barcode": "ABC123", "status": "FAILED"}
    )
    assert errors.translate(final) == "⚠️ O pacote ABC123 já está com falha registrada."
    money = d.ValidationFailed("x", field="commissionPerDelivery", code="AMOUNT_CENTS")
    assert errors.translate(money) == "⚠️ A comissão pode ter no máximo dois decimais (centavos)."
    waiting = d.InvalidTransition(
        "session", "PAUSED", "package status change", code="SESSION_NOT_ACTIVE"
    )
    assert "A sessão está pausada" in errors.translate(waiting)
    not_started = d.InvalidTransition(
        "session", "OPEN", "package status change", code="SESSION_NOT_ACTIVE"
    )
    assert "A sessão ainda não começou" in errors.translate(not_started)


def test_plurals() -> None:
    def still_open(count: int) -> str:
        exc = d.InvalidTransition(
            "session",
            "ACTIVE",
            "COMPLETED",
            code="PACKAGES_STILL_OPEN",
            params={"count": str(count)},
        )
        return errors.translate(exc)

    assert still_open(1) == "⚠️ Ainda há 1 pacote sem entrega ou falha."
    assert still_open(2) == "⚠️ Ainda há 2 pacotes sem entrega ou falha."


def test_a_missing_param_falls_back_by_type() -> None:
    exc = d.NotFound("package X is not in this session", code="PACKAGE_NOT_IN_SESSION")
    assert errors.translate(exc) == "⚠️ Não encontrei o que você pediu. Confira e tente de novo."
