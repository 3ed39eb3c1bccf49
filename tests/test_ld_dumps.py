"""Dumps over real HTTP: six syntaxes that parse in rdflib and pyoxigraph, isomorphic to each
other and to the store, byte-identical to ``sovkg export``, with ETag/304, gzip and a listing
whose sizes and checksums match."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import subprocess

import httpx
import pytest
import rdflib
from pyoxigraph import (
    CanonicalizationAlgorithm,
    Dataset,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    RdfFormat,
    Store,
    parse,
)
from sovkg.formats import RDF_FORMATS, RDFLIB_NAMES
from sovkg.linkeddata.state import get_state, notify_store_changed

from tests.support.server import ROOT, SOVKG
from tests.support.setups import every_setup

pytestmark = pytest.mark.live

FILES = {name: f"sovereign-ai-kg.{fmt.file_extension}" for name, fmt in RDF_FORMATS.items()}


@pytest.fixture(scope="module")
def dumps(live_server) -> dict[str, httpx.Response]:
    return {
        name: httpx.get(f"{live_server.url}/dumps/{filename}", timeout=60)
        for name, filename in FILES.items()
    }


def _canonical(quads) -> set[str]:
    """The union graph of ``quads`` with RDFC-1.0 blank node labels: equal sets mean
    isomorphic graphs."""
    ds = Dataset(Quad(q.subject, q.predicate, q.object, DefaultGraph()) for q in quads)
    ds.canonicalize(CanonicalizationAlgorithm.RDFC_1_0)
    return {str(q) for q in ds}


def _from_rdflib(graph) -> set[str]:
    data = graph.serialize(format="nt", encoding="utf-8")
    return _canonical(parse(data, format=RdfFormat.N_TRIPLES))


@every_setup
def test_six_dumps_parse_and_are_isomorphic_to_the_store(dumps, store):
    expected = _canonical(store)
    assert len(expected) > 1000
    for name, response in dumps.items():
        assert response.status_code == 200, name
        fmt = RDF_FORMATS[name]
        assert response.headers["content-type"].startswith(fmt.media_type)
        oxi = list(parse(response.content, format=fmt))
        assert _canonical(oxi) == expected, f"{name}: pyoxigraph view differs"
        if fmt.supports_datasets:
            assert len({str(q.graph_name) for q in oxi}) > 1, f"{name} keeps the named graphs"
            graph = rdflib.Dataset()
            graph.parse(data=response.content, format=RDFLIB_NAMES[fmt])
            union = rdflib.Graph()
            for s, p, o, _ in graph.quads((None, None, None, None)):
                union.add((s, p, o))
        else:
            union = rdflib.Graph().parse(data=response.content, format=RDFLIB_NAMES[fmt])
        assert _from_rdflib(union) == expected, f"{name}: rdflib view differs"


@every_setup
def test_dumps_are_the_bytes_of_sovkg_export(dumps):
    env = dict(os.environ)
    procs = {
        name: subprocess.Popen(
            [*SOVKG, "export", "--format", name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env=env,
        )
        for name in FILES
    }
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert out == dumps[name].content, f"{name} differs from sovkg export"


@every_setup
def test_etag_304_and_gzip(live_server, dumps):
    url = f"{live_server.url}/dumps/{FILES['turtle']}"
    body = dumps["turtle"].content
    identity = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers and identity.content == body
    etag = identity.headers["etag"]
    assert etag == f'"sha256-{hashlib.sha256(body).hexdigest()}"'
    assert not etag.startswith("W/")
    again = httpx.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b""
    other = httpx.get(
        url, headers={"If-None-Match": '"something-else"', "Accept-Encoding": "identity"}
    )
    assert other.status_code == 200 and other.content == body

    with httpx.Client() as client:
        raw = client.send(
            client.build_request("GET", url, headers={"Accept-Encoding": "gzip"}), stream=True
        )
        compressed = b"".join(raw.iter_raw())
        raw.close()
    assert raw.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["vary"]
    assert raw.headers["etag"] != etag
    assert len(compressed) < len(body)
    assert gzip.decompress(compressed) == body
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == body


@every_setup
def test_listing_gives_sizes_and_checksums(live_server, dumps):
    listing = httpx.get(f"{live_server.url}/dumps", headers={"Accept": "application/json"})
    entries = {e["format"]: e for e in listing.json()["dumps"]}
    assert set(entries) == set(FILES)
    for name, response in dumps.items():
        e = entries[name]
        assert e["bytes"] == len(response.content)
        assert e["sha256"] == hashlib.sha256(response.content).hexdigest()
        assert e["url"].endswith(f"/dumps/{FILES[name]}")
        assert e["media_type"] == RDF_FORMATS[name].media_type
    page = httpx.get(f"{live_server.url}/dumps", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    for name, response in dumps.items():
        assert hashlib.sha256(response.content).hexdigest() in page.text
        assert f'href="/dumps/{FILES[name]}"' in page.text


@every_setup
def test_unknown_dump_is_404(live_server):
    r = httpx.get(f"{live_server.url}/dumps/sovereign-ai-kg.xlsx")
    assert r.status_code == 404
    assert "sovereign-ai-kg.ttl" in r.text


def test_cache_is_rebuilt_after_notify_store_changed(store):
    """The hook the update route calls: the next dump reflects the changed store."""

    class _App:
        class state:
            pass

    copy = Store()
    copy.extend(store)
    app = _App()
    state = get_state(app, copy)
    before = asyncio.run(state.dumps.get())[FILES["ntriples"]]
    copy.add(
        Quad(
            NamedNode("https://w3id.org/ksai/id/test/added"),
            NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
            Literal("added"),
        )
    )
    assert asyncio.run(state.dumps.get())[FILES["ntriples"]] is before  # cached
    notify_store_changed(app)
    after = asyncio.run(state.dumps.get())[FILES["ntriples"]]
    assert after.sha256 != before.sha256
    assert b"https://w3id.org/ksai/id/test/added" in after.body
