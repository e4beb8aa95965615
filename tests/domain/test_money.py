"""Exact money: parse_amount's refusals, and earned() computed in whole cents independently."""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.money import MAX_AMOUNT, earned, format_amount, parse_amount, round_cents


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", "0.00"),
        ("12.5", "12.50"),
        (" 12.50 ", "12.50"),
        ("100", "100.00"),
        ("0.01", "0.01"),
        ("9999999999.99", "9999999999.99"),
        ("1e2", "100.00"),
        (Decimal("3.35"), "3.35"),
        (7, "7.00"),
    ],
)
def test_accepted_amounts_become_two_decimal_places(
    raw: str | Decimal | int, expected: str
) -> None:
    value = parse_amount(raw, "baseSalary")
    assert isinstance(value, Decimal)
    assert str(value) == expected
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw",
    [
        "-1",
        "-0.01",
        Decimal("-5"),
        -3,
        "1.001",
        "0.005",
        "12.345",
        Decimal("1.234"),
        "1e-3",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        Decimal("NaN"),
        Decimal("Infinity"),
        "",
        "   ",
        "abc",
        "12,50",
        "1.2.3",
        "R$ 10",
        "0x10",
        "10000000000",
        "9999999999.999",
        "1e11",
        True,
    ],
    ids=repr,
)
def test_refused_amounts(raw: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_amount(raw, "commissionPerDelivery")  # type: ignore[arg-type]
    assert err.value.field == "commissionPerDelivery"


@pytest.mark.parametrize("raw", [1.5, 0.1, 2.0, float("nan"), float("inf")])
def test_floats_are_refused_even_when_exact(raw: float) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_amount(raw, "baseSalary")  # type: ignore[arg-type]
    assert err.value.field == "baseSalary"


@pytest.mark.parametrize(
    "raw",
    [
        "1" + "0" * 30 + ".000",  # too many digits for the default decimal context and > 2 places
        "9" * 40 + ".123",
        "12345678901234567890123456789.001",
    ],
)
def test_huge_amounts_with_many_decimals_are_a_validation_error(raw: str) -> None:
    """Any string must end in a value or a ValidationFailed, never in decimal.InvalidOperation."""
    with pytest.raises(ValidationFailed):
        parse_amount(raw, "baseSalary")


@pytest.mark.parametrize("raw", ["-0", "-0.00", Decimal("-0")])
def test_negative_zero_is_plain_zero(raw: str | Decimal) -> None:
    """Money is never signed negative: "-0" is zero, and it must not print as "-0.00"."""
    value = parse_amount(raw, "baseSalary")
    assert value == 0
    assert format_amount(value) == "0.00"
    assert not value.is_signed()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # half-even would give 0.02
        ("2.675", "2.68"),  # a float would give 2.67
        ("2.665", "2.67"),
        ("1.004999", "1.00"),
        ("10.4449", "10.44"),
        ("99.995", "100.00"),
    ],
)
def test_round_cents_is_half_up(value: str, expected: str) -> None:
    assert str(round_cents(Decimal(value))) == expected
    assert format_amount(Decimal(value)) == expected


def test_earned_examples() -> None:
    assert earned(Decimal("80.10"), Decimal("3.35"), 3) == Decimal("90.15")
    assert earned(Decimal("100.00"), Decimal("2.50"), 1) == Decimal("102.50")
    assert earned(Decimal("0.00"), Decimal("0.10"), 3) == Decimal("0.30")  # 0.1 * 3 != 0.3 in float
    assert earned(Decimal("10.00"), Decimal("0.00"), 1000) == Decimal("10.00")
    assert str(earned(Decimal("0"), Decimal("0.01"), 0)) == "0.00"
    assert earned(Decimal("0.00"), Decimal("0.005"), 1) == Decimal("0.01")  # half-up, once


cents = st.integers(min_value=0, max_value=99_999_999)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(base=cents, commission=cents, delivered=st.integers(min_value=0, max_value=2000))
def test_earned_is_exact_in_cents(base: int, commission: int, delivered: int) -> None:
    """Computed in integer cents (no Decimal arithmetic) and compared digit for digit."""
    b = parse_amount(f"{base // 100}.{base % 100:02d}", "baseSalary")
    c = parse_amount(f"{commission // 100}.{commission % 100:02d}", "commission")
    total = base + commission * delivered
    expected = f"{total // 100}.{total % 100:02d}"
    result = earned(b, c, delivered)
    assert str(result) == expected
    assert format_amount(result) == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=30))
def test_parse_amount_never_fails_unexpectedly(raw: str) -> None:
    """Any text is either a valid amount in range or a ValidationFailed."""
    try:
        value = parse_amount(raw, "x")
    except ValidationFailed:
        return
    assert Decimal(0) <= value <= MAX_AMOUNT
    assert value.as_tuple().exponent == -2


def _cents(value: Decimal) -> bool:
    """Whether a finite decimal has at most two decimal places, computed exactly."""
    with localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = MAX_PREC, MAX_EMAX, MIN_EMIN
        scaled = value * 100
        return scaled == scaled.to_integral_value()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.decimals(min_value=-(10**12), max_value=10**12, places=3)
)
def test_parse_amount_of_any_decimal(raw: Decimal) -> None:
    try:
        value = parse_amount(raw, "x")
    except ValidationFailed:
        assert not raw.is_finite() or raw < 0 or raw > MAX_AMOUNT or not _cents(raw)
        return
    assert value == raw
    assert Decimal(0) <= value <= MAX_AMOUNT
