"""POST /shacl over real HTTP: the shipped graph conforms, broken data gets a report naming the
focus node and the message, given shapes are used, and bad requests get 413 / 400 / 415."""

from __future__ import annotations

import json

import httpx
import pytest
import rdflib
from rdflib import Namespace, URIRef

pytestmark = pytest.mark.live

SH = Namespace("http://www.w3.org/ns/shacl#")
BROKEN = "https://w3id.org/ksai/id/team/broken-team"
BROKEN_TTL = (
    f"@prefix ksai: <https://w3id.org/ksai/ontology#> .\n<{BROKEN}> a ksai:Consortium .\n"
).encode()


def _post(live_server, body, content_type="text/turtle", accept="text/turtle", **kw):
    return httpx.post(
        f"{live_server.url}/shacl",
        content=body,
        headers={"Content-Type": content_type, "Accept": accept},
        timeout=120,
        **kw,
    )


def _report(response) -> rdflib.Graph:
    return rdflib.Graph().parse(data=response.text, format="turtle")


def test_shipped_graph_conforms(live_server):
    dump = httpx.get(f"{live_server.url}/dumps/sovereign-ai-kg.nq").content
    r = _post(live_server, dump, content_type="application/n-quads")
    assert r.status_code == 200, r.text
    assert r.headers["shacl-conforms"] == "true"
    report = _report(r)
    (node,) = set(report.subjects(rdflib.RDF.type, SH.ValidationReport))
    assert report.value(node, SH.conforms).toPython() is True


def test_broken_data_report_names_focus_node_and_message(live_server):
    r = _post(live_server, BROKEN_TTL)
    assert r.status_code == 200
    assert r.headers["shacl-conforms"] == "false"
    assert r.headers["content-type"].startswith("text/turtle")
    report = _report(r)
    results = [
        res
        for res in report.subjects(rdflib.RDF.type, SH.ValidationResult)
        if report.value(res, SH.focusNode) == URIRef(BROKEN)
    ]
    assert results
    assert all(report.value(res, SH.resultMessage) is not None for res in results)
    assert any(report.value(res, SH.resultSeverity) == SH.Violation for res in results)

    as_json = _post(live_server, BROKEN_TTL, accept="application/ld+json")
    assert as_json.headers["content-type"].startswith("application/ld+json")
    assert BROKEN in json.dumps(as_json.json())

    page = _post(live_server, BROKEN_TTL, accept="text/html")
    assert page.headers["content-type"].startswith("text/html")
    assert BROKEN in page.text
    message = str(report.value(results[0], SH.resultMessage))
    assert message.split("(")[0].strip()[:20] in page.text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "application/n-triples",
            f"<{BROKEN}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
            "<https://w3id.org/ksai/ontology#Consortium> .\n",
        ),
        (
            "application/ld+json",
            json.dumps({"@id": BROKEN, "@type": "https://w3id.org/ksai/ontology#Consortium"}),
        ),
        (
            "application/rdf+xml",
            '<?xml version="1.0"?><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            f'rdf:about="{BROKEN}"><rdf:type rdf:resource='
            '"https://w3id.org/ksai/ontology#Consortium"/></rdf:Description></rdf:RDF>',
        ),
        ("application/trig", f"{{ <{BROKEN}> a <https://w3id.org/ksai/ontology#Consortium> }}"),
    ],
)
def test_every_input_syntax_is_read(live_server, content_type, body):
    r = _post(live_server, body.encode(), content_type=content_type)
    assert r.status_code == 200, r.text
    assert r.headers["shacl-conforms"] == "false"
    assert URIRef(BROKEN) in set(_report(r).objects(None, SH.focusNode))


def test_multipart_with_own_shapes(live_server):
    shapes = (
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "<urn:shape> a sh:NodeShape ; sh:targetClass <urn:Thing> ;\n"
        '  sh:property [ sh:path <urn:name> ; sh:minCount 1 ; sh:message "needs a name" ] .\n'
    )
    data = '<urn:a> a <urn:Thing> .\n<urn:b> a <urn:Thing> ; <urn:name> "b" .\n'
    r = httpx.post(
        f"{live_server.url}/shacl",
        files={"data": ("data.ttl", data.encode()), "shapes": ("shapes.ttl", shapes.encode())},
        headers={"Accept": "text/turtle"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.headers["shacl-conforms"] == "false"
    report = _report(r)
    assert set(report.objects(None, SH.focusNode)) == {URIRef("urn:a")}
    assert "needs a name" in {str(m) for m in report.objects(None, SH.resultMessage)}

    ok = httpx.post(
        f"{live_server.url}/shacl",
        data={"data": '<urn:b> a <urn:Thing> ; <urn:name> "b" .'},
        files={"shapes": ("shapes.ttl", shapes.encode())},
        timeout=60,
    )
    assert ok.status_code == 200 and ok.headers["shacl-conforms"] == "true"

    missing = httpx.post(f"{live_server.url}/shacl", files={"shapes": ("s.ttl", shapes.encode())})
    assert missing.status_code == 400 and "data" in missing.text


def test_oversized_body_is_413_before_and_while_reading(live_server):
    big = b"# " + b"x" * (3 * 1024 * 1024) + b"\n"
    declared = _post(live_server, big)
    assert declared.status_code == 413

    def chunks():
        for _ in range(48):
            yield b"#" + b"y" * 65535 + b"\n"

    streamed = httpx.post(
        f"{live_server.url}/shacl",
        content=chunks(),
        headers={"Content-Type": "text/turtle"},
        timeout=60,
    )
    assert streamed.status_code == 413


def test_unreadable_body_is_400_with_the_parser_position(live_server):
    r = _post(live_server, b"@prefix ex: <http://example.org/> .\nex:a ex:b ex:c\nex:d .\n")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert "line" in r.text.lower()
    bad_json = _post(live_server, b"{not json", content_type="application/ld+json")
    assert bad_json.status_code == 400


def test_unsupported_content_type_is_415(live_server):
    r = _post(live_server, b"hello", content_type="text/plain")
    assert r.status_code == 415
    assert "text/turtle" in r.text


def test_form_page_for_people(live_server):
    r = httpx.get(f"{live_server.url}/shacl", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text and 'name="data"' in r.text
