"""The Reconciliation API 0.2 JSON schemas (copied here, see LICENSE.md) as validators, and the
article's surface forms of organisations and teams."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

HERE = Path(__file__).parent
SCHEMAS = (
    "manifest",
    "type",
    "reconciliation-query-batch",
    "reconciliation-result-batch",
    "suggest-entities-response",
    "suggest-types-response",
)


@cache
def _registry() -> Registry:
    resources = []
    for name in SCHEMAS:
        schema = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
        resources.append((schema["$id"], DRAFT7.create_resource(schema)))
    return Registry().with_resources(resources)


def validator(name: str) -> Draft7Validator:
    """A validator for one of the spec's schemas; ``$ref``s resolve to the copies here (the
    manifest's ``type.json``), never over the network."""
    schema = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
    return Draft7Validator(schema, registry=_registry())


def errors(name: str, document: object) -> list[str]:
    """What is wrong with ``document`` according to schema ``name`` (empty when valid)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(document)]


def surface_forms() -> list[tuple[str, str]]:
    """(surface form, identifier) for every way the article prints an organisation or team."""
    rows = []
    for line in (HERE / "surface_forms.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            form, ident = line.split("\t")
            rows.append((form, ident))
    return rows
