"""A conforming verdict is remembered per content digest; a failing one never is."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad
from sovkg.dataset import open_store
from sovkg.validation import store_digest, validate_store


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOVKG_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_second_validation_of_same_content_is_skipped(cache: Path) -> None:
    store = open_store()
    first = validate_store(store)
    assert first is not None and first.conforms
    assert validate_store(open_store()) is None
    assert len(list((cache / "validated").iterdir())) == 1


def test_changed_content_is_validated_again(cache: Path) -> None:
    store = open_store()
    validate_store(store)
    store.add(
        Quad(NamedNode("http://example.org/x"), NamedNode("http://example.org/p"), Literal("1"))
    )
    assert validate_store(store) is not None


def test_digest_ignores_statement_order_but_not_content() -> None:
    a, b = open_store(), open_store()
    assert store_digest(a) == store_digest(b)
    b.add(Quad(NamedNode("http://example.org/x"), NamedNode("http://example.org/p"), Literal("1")))
    assert store_digest(a) != store_digest(b)


def test_failing_verdict_is_not_cached(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("<http://example.org/t> a <https://w3id.org/ksai/ontology#Consortium> .\n")
    for _ in range(2):
        report = validate_store(open_store(None, [bad]))
        assert report is not None and not report.conforms
    assert not (cache / "validated").exists() or not any((cache / "validated").iterdir())
