"""Scalars of the contract: Decimal as a two-decimal string (never a float), JSON."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from graphql import GraphQLError

from domain.money import format_amount


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise GraphQLError('Decimal values are strings like "12.50", never floats')
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise GraphQLError(f"not a decimal number: {value!r}") from None


# A definition for StrawberryConfig.scalar_map (gql/schema.py), which replaces the built-in
# Decimal scalar (it would accept floats and print any number of decimals).
DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='Exact money as a string with two decimals, e.g. "1234.50".',
    serialize=lambda v: format_amount(Decimal(v)),
    parse_value=_parse_decimal,
)
