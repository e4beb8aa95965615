"""Every public element of the schema carries an English description: each type, field,
argument, input field and enum value (also those added later: this walks the whole schema).

undescribed.txt lists what was still without one when this test came: it may only shrink.
A new element without a description fails, and so does a listed one that got a description
(take it off the list). The goal is an empty list.
"""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from gql.schema import build_schema

KNOWN = Path(__file__).with_name("undescribed.txt")


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
    missing = set(undescribed(build_schema()._schema))
    known = set(KNOWN.read_text().split())
    new = sorted(missing - known)
    assert new == [], f"{len(new)} new elements without a description:\n" + "\n".join(new)
    described = sorted(known - missing)
    assert described == [], "described now, take off undescribed.txt:\n" + "\n".join(described)
