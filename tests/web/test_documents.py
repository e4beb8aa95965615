"""Every GraphQL document the web client sends is valid against the exported schema.graphql
(graphql-core's `validate`, the rules every server applies): a schema change that would
break the dashboard or the scanner fails here, in CI, before any browser runs.

The documents are read from web/js/*.js as the browser gets them: string and template
literals that start with `query`, `mutation` or `subscription`, with `${NAME}` resolved to
the module constants they interpolate (fragments of selections such as PROGRESS).
"""

from __future__ import annotations

import re

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from bipa.web import WEB_DIR
from tests.conftest import ROOT

SCHEMA = ROOT / "schema.graphql"
JS = sorted((WEB_DIR / "js").glob("*.js"))

CONST = re.compile(
    r"\bconst\s+([A-Z][A-Z0-9_]*)\s*=\s*(?:`((?:\\.|[^`\\])*)`|\"((?:\\.|[^\"\\])*)\")", re.S
)
LITERAL = re.compile(r"`((?:\\.|[^`\\])*)`|\"((?:\\.|[^\"\\])*)\"|'((?:\\.|[^'\\])*)'", re.S)
INTERPOLATION = re.compile(r"\$\{\s*([A-Za-z_$][\w$]*)\s*\}")
OPERATION = re.compile(r"^\s*(query|mutation|subscription)\b")


def _constants() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in JS:
        for name, template, string in CONST.findall(path.read_text(encoding="utf-8")):
            body = template or string
            assert found.get(name, body) == body, f"{name} is defined twice, differently"
            found[name] = body
    return found


def _resolve(text: str, constants: dict[str, str], where: str, depth: int = 0) -> str:
    assert depth < 10, f"{where}: interpolation nested too deep"

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in constants, f"{where}: ${{{name}}} is not a module constant"
        return _resolve(constants[name], constants, where, depth + 1)

    return INTERPOLATION.sub(sub, text)


def web_documents() -> dict[str, str]:
    """`file:line` -> the document, for every operation literal in web/js."""
    constants = _constants()
    documents: dict[str, str] = {}
    for path in JS:
        source = path.read_text(encoding="utf-8")
        for match in LITERAL.finditer(source):
            text = next(g for g in match.groups() if g is not None)
            if not OPERATION.match(text):
                continue
            where = f"{path.name}:{source.count(chr(10), 0, match.start()) + 1}"
            documents[where] = _resolve(text, constants, where)
    return documents


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA.read_text(encoding="utf-8"))


DOCUMENTS = web_documents()


def test_the_documents_are_found() -> None:
    # A broken extractor would find nothing and the test below would pass on nothing.
    names = {re.match(r"\s*\w+\s+(\w+)", d).group(1) for d in DOCUMENTS.values()}  # type: ignore[union-attr]
    assert {"SessionPage", "SessionEvents", "CreateSession", "AssignPackages", "Me"} <= names
    assert {"CompleteSession", "AddDeliverer", "ScanBarcode", "MySessionEvents"} <= names
    assert len(DOCUMENTS) >= 25, sorted(DOCUMENTS)


@pytest.mark.parametrize("where", sorted(DOCUMENTS))
def test_every_web_document_is_valid_against_the_exported_schema(
    schema: GraphQLSchema, where: str
) -> None:
    errors = validate(schema, parse(DOCUMENTS[where]))
    assert not errors, f"{where}: " + "; ".join(e.message for e in errors)


def test_a_schema_change_that_breaks_the_web_client_is_caught() -> None:
    sdl = SCHEMA.read_text(encoding="utf-8")
    block = re.search(r"type DeliverySession \{.*?\n\}", sdl, re.S)
    assert block is not None
    # The field with its description (a description left alone would not parse).
    without = re.sub(r'(  """[^"]*"""\n)?  progress: SessionProgress!\n', "", block.group(0))
    assert without != block.group(0)
    broken = build_schema(sdl.replace(block.group(0), without))
    failing = [w for w, doc in DOCUMENTS.items() if validate(broken, parse(doc))]
    assert any(w.startswith("queries.js") for w in failing), failing


def test_every_request_of_the_pages_uses_a_document_the_scan_sees() -> None:
    """gql()/gqlUpload() take a module constant or a literal operation: nothing built at run
    time (and no `{ ... }` shorthand) escapes the validation above."""
    call = re.compile(r"\bgql(?:Upload)?\(\s*([^,)\s]+)")
    constants = _constants()
    for path in JS:
        if path.name == "api.js":
            continue
        for arg in call.findall(path.read_text(encoding="utf-8")):
            if arg.startswith(('"', "`", "'")):
                assert OPERATION.match(arg[1:]), f"{path.name}: {arg}"
            elif arg != "action.doc":  # session-actions.js: one of its ACTIONS constants
                assert arg in constants and OPERATION.match(
                    _resolve(constants[arg], constants, arg)
                ), f"{path.name}: gql({arg}) is not an operation constant"
