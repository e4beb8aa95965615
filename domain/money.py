"""Exact money: Decimal, two places, half-up rounding once where an amount is produced."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.errors import ValidationFailed

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # NUMERIC(12, 2)


def parse_amount(raw: str | Decimal | int, field: str) -> Decimal:
    """A non-negative amount with at most two decimals (never a float)."""
    if isinstance(raw, float):
        raise ValidationFailed(
            f"{field} must be a decimal string, not a float", field=field, code="AMOUNT_INVALID"
        )
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            f"{field} must be a decimal number like 12.50", field=field, code="AMOUNT_INVALID"
        ) from None
    if not value.is_finite():
        raise ValidationFailed(
            f"{field} must be a finite number", field=field, code="AMOUNT_INVALID"
        )
    if value < 0:
        raise ValidationFailed(f"{field} must not be negative", field=field, code="AMOUNT_NEGATIVE")
    # Bounded before quantize(): a huge value would overflow the decimal context.
    if value > MAX_AMOUNT:
        raise ValidationFailed(
            f"{field} must be at most {MAX_AMOUNT}",
            field=field,
            code="AMOUNT_TOO_LARGE",
            params={"max": str(MAX_AMOUNT)},
        )
    if value != value.quantize(CENT):
        raise ValidationFailed(
            f"{field} must have at most two decimal places", field=field, code="AMOUNT_CENTS"
        )
    # "-0" is zero: adding a plain zero drops the sign, so it never prints as "-0.00".
    return value.quantize(CENT) + Decimal("0.00")


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def earned(base_salary: Decimal, commission: Decimal, delivered: int) -> Decimal:
    return round_cents(base_salary + commission * delivered)


def format_amount(value: Decimal) -> str:
    return str(round_cents(value))
