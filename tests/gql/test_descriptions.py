"""Every public element of the schema carries an English description: each type, field,
argument, input field and enum value (also those added later: this walks the whole schema).
"""

from __future__ import annotations

import enum

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from gql.enums import described_enum
from gql.schema import build_schema


def undescribed(schema: GraphQLSchema) -> list[str]:
    missing = []
    for name, kind in sorted(schema.type_map.items()):
        if name.startswith("__"):
            continue
        if not (kind.description or "").strip():
            missing.append(name)
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in kind.fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in field.args.items():
                    if not (arg.description or "").strip():
                        missing.append(f"{name}.{field_name}({arg_name})")
        elif isinstance(kind, GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{field_name}")
        elif isinstance(kind, GraphQLEnumType):
            for value_name, value in kind.values.items():
                if not (value.description or "").strip():
                    missing.append(f"{name}.{value_name}")
    return missing


def test_every_schema_element_has_a_description() -> None:
    missing = undescribed(build_schema()._schema)
    assert missing == [], f"{len(missing)} elements without a description:\n" + "\n".join(missing)


def test_a_domain_enum_value_without_a_description_fails_at_import() -> None:
    class Colour(enum.StrEnum):
        RED = "RED"
        BLUE = "BLUE"

    with pytest.raises(TypeError, match="BLUE"):
        described_enum(Colour, "Colour", "A colour.", {Colour.RED: "Red."})
