"""The RDF input guard (sovkg.rdfinput): what a client's RDF may cost before it is parsed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store, Triple, parse, serialize
from sovkg.dataset import load_file, read_quads
from sovkg.errors import LoadError
from sovkg.rdfinput import (
    DEFAULT_LIMITS,
    InputLimits,
    InputRefused,
    check_bytes,
    check_quads,
    parse_guarded,
)

from tests.support.server import run_sovkg

ROOT = Path(__file__).resolve().parent.parent
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = RdfFormat.RDF_XML
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def bomb(levels: int, fan: int = 10) -> bytes:
    """The classic 'billion laughs': each entity is ``fan`` copies of the previous one."""
    decls = ['<!ENTITY lol0 "lol">']
    decls += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * fan}">' for i in range(1, levels + 1)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(decls) + "\n]>\n"
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:ex="http://example.org/">'
        f'<rdf:Description rdf:about="http://example.org/a"><ex:p>&lol{levels};</ex:p>'
        "</rdf:Description></rdf:RDF>"
    ).encode()


def owl_style_rdfxml() -> bytes:
    """Our ontology as RDF/XML the way OWL tools write it: a DOCTYPE with one entity per
    namespace, and ``&ns;Name`` in every attribute that holds an IRI."""
    quads = list(parse(path=str(ROOT / "ontology" / "ksai.ttl"), format=RdfFormat.TURTLE))
    namespaces = {
        "ksai": "https://w3id.org/ksai/ontology#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "rdf": RDF_NS,
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
    }
    text = (serialize([q.triple for q in quads], format=XML, prefixes=namespaces) or b"").decode()
    for name, iri in namespaces.items():
        text = re.sub(rf'="{re.escape(iri)}', f'="&{name};', text)
    decls = "\n".join(f'    <!ENTITY {n} "{iri}" >' for n, iri in namespaces.items())
    head, rest = text.split("?>", 1) if text.startswith("<?xml") else ('<?xml version="1.0"', text)
    return f"{head}?>\n<!DOCTYPE rdf:RDF [\n{decls}\n]>\n{rest.lstrip()}".encode()


def test_an_owl_file_with_namespace_entities_parses_to_the_same_triples() -> None:
    body = owl_style_rdfxml()
    assert body.count(b"&ksai;") > 50  # the abbreviations are really used
    quads = parse_guarded(body, XML)
    plain = list(parse(path=str(ROOT / "ontology" / "ksai.ttl"), format=RdfFormat.TURTLE))
    assert {str(q.triple) for q in quads if not str(q.subject).startswith("_:")} >= {
        str(q.triple)
        for q in plain
        if not str(q.subject).startswith("_:") and not str(q.object).startswith("_:")
    }


@pytest.mark.parametrize("levels", [5, 6, 9, 30])
def test_entity_expansion_past_a_multiple_of_the_size_is_refused_before_parsing(
    levels: int,
) -> None:
    body = bomb(levels)
    with pytest.raises(InputRefused, match="entities would add at least .* over the limit"):
        parse_guarded(body, XML)


def test_a_small_expansion_within_the_budget_parses() -> None:
    body = bomb(2)  # 'lol' * 100: 300 characters
    (quad,) = parse_guarded(body, XML)
    assert quad.object == Literal("lol" * 100)


def test_many_uses_of_a_moderate_entity_count_against_the_budget() -> None:
    decl = b'<!ENTITY a "' + b"x" * 1000 + b'">'

    def doc(uses: int) -> bytes:
        return (
            b'<?xml version="1.0"?><!DOCTYPE rdf:RDF [' + decl + b"]>"
            b'<rdf:RDF xmlns:rdf="' + RDF_NS.encode() + b'" xmlns:e="http://e/">'
            b'<rdf:Description rdf:about="http://e/s"><e:p>'
            + b"&a;" * uses
            + b"</e:p></rdf:Description></rdf:RDF>"
        )

    assert len(parse_guarded(doc(20), XML)) == 1
    with pytest.raises(InputRefused, match="entities would add"):
        parse_guarded(doc(5000), XML)


def test_utf16_documents_are_measured_too() -> None:
    text = bomb(9).decode().replace('version="1.0"?', 'version="1.0" encoding="UTF-16"?')
    with pytest.raises(InputRefused, match="entities would add"):
        check_bytes(text.encode("utf-16"), XML)


@pytest.mark.parametrize(
    ("subset", "reason"),
    [
        ('<!ENTITY % p "x">', "parameter entity"),
        ('<!ENTITY x SYSTEM "file:///etc/passwd">', "external entity"),
        ('<!ENTITY x PUBLIC "-//x//y" "http://example.org/x">', "external entity"),
        ('<!NOTATION n SYSTEM "n"><!ENTITY x SYSTEM "y" NDATA n>', "unparsed entity"),
        ('<!ENTITY a "&b;"><!ENTITY b "&a;">', "in terms of itself"),
        ("".join(f'<!ENTITY e{i} "v">' for i in range(300)), "more than 256 entities"),
        ('<!ENTITY a "x"', "cannot read the RDF/XML DOCTYPE"),
        ('<!ENTITY a "x"><!ENTITY a "y">', "declares the entity a twice"),
    ],
)
def test_dangerous_doctypes_are_refused_with_the_reason(subset: str, reason: str) -> None:
    body = f'<?xml version="1.0"?><!DOCTYPE r [{subset}]><r/>'.encode()
    with pytest.raises(InputRefused, match=reason):
        check_bytes(body, XML)


def test_a_bomb_behind_redeclared_entities_is_refused() -> None:
    """Found by the fuzz test in CI: XML binds the first of two declarations, so the guard
    measured short chains, while the parser built the later, nine-fold ones and ran into the
    worker's memory limit. A second declaration is now refused."""
    first = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" if i else ";"}">' for i in range(6))
    later = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 9 if i else ";"}">' for i in range(10))
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [{first}{later}]>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:ex="http://example.org/"><rdf:Description rdf:about="http://example.org/a">'
        "<ex:p></ex:p></rdf:Description></rdf:RDF>"
    ).encode()
    with pytest.raises(InputRefused, match="declares the entity e0 twice"):
        check_bytes(body, XML)


def test_documents_without_entities_are_left_to_the_parser() -> None:
    check_bytes(b"<not even xml", XML)  # the parser reports it, with its position
    with pytest.raises(SyntaxError):
        parse_guarded(b"<not even xml", XML)


def nested_list(depth: int) -> bytes:
    return (
        b"@prefix ex: <http://example.org/> .\nex:s ex:p " + b"( " * depth + b")" * depth + b" .\n"
    )


def nested_blank_nodes(depth: int) -> bytes:
    return (
        b"@prefix ex: <http://example.org/> .\nex:s "
        + b"ex:p [ " * depth
        + b"ex:p 1 "
        + b"] " * depth
        + b".\n"
    )


@pytest.mark.parametrize("make", [nested_list, nested_blank_nodes])
def test_turtle_nesting_is_bounded(make: Callable[[int], bytes]) -> None:
    assert parse_guarded(make(DEFAULT_LIMITS.max_depth), RdfFormat.TURTLE)
    with pytest.raises(InputRefused, match="nests deeper than the limit of 64 levels"):
        parse_guarded(make(DEFAULT_LIMITS.max_depth + 1), RdfFormat.TURTLE)


def test_brackets_in_strings_iris_and_comments_do_not_count() -> None:
    deep = "(" * 200
    body = (
        f"@prefix ex: <http://example.org/{deep}> . # {deep}\n"
        f"ex:s ex:p \"{deep}\", \"\"\"{deep}\n{deep}\"\"\", '{deep}', '''{deep}''' .\n"
    ).encode()
    assert len(parse_guarded(body, RdfFormat.TURTLE)) == 4


def test_nested_triple_terms_count_as_nesting() -> None:
    inner = "<http://e/s> <http://e/p> <http://e/o>"
    for _ in range(70):
        inner = f"<<( {inner} )>> <http://e/p> <http://e/o>"
    with pytest.raises(InputRefused, match="nests deeper"):
        check_bytes(f"{inner} .\n".encode(), RdfFormat.N_TRIPLES)


def test_json_ld_nesting_is_bounded() -> None:
    def doc(depth: int) -> bytes:
        return (
            b'{"@id": "http://e/a", "http://e/p": '
            + b'{"http://e/p": ' * depth
            + b'"[[[{{{"'
            + b"}" * depth
            + b"}"
        )

    assert parse_guarded(doc(60), RdfFormat.JSON_LD)
    with pytest.raises(InputRefused, match="JSON-LD document nests deeper"):
        parse_guarded(doc(200), RdfFormat.JSON_LD)


def test_prefix_declarations_are_bounded() -> None:
    def doc(n: int, keyword: str) -> bytes:
        return "".join(f"{keyword} p{i}: <http://e/{i}/>\n" for i in range(n)).encode()

    assert parse_guarded(doc(1000, "PREFIX"), RdfFormat.TURTLE) == []
    for keyword in ("PREFIX", "prefix", "@prefix"):
        body = (
            doc(1100, keyword)
            if keyword != "@prefix"
            else doc(1100, "@prefix").replace(b"/>\n", b"/> .\n")
        )
        with pytest.raises(InputRefused, match="more than 1024 prefixes"):
            check_bytes(body, RdfFormat.TRIG)
    names = "".join(f' xmlns:p{i}="http://e/{i}/"' for i in range(1100))
    with pytest.raises(InputRefused, match="more than 1024 namespace prefixes"):
        check_bytes(f'<rdf:RDF xmlns:rdf="{RDF_NS}"{names}/>'.encode(), XML)


def test_prefixed_names_that_spell_prefix_are_not_declarations() -> None:
    body = b"@prefix ex: <http://e/> .\n" + b"ex:prefix ex:PREFIX ex:prefix .\n" * 2000
    assert len(parse_guarded(body, RdfFormat.TURTLE)) == 2000


def test_huge_literals_and_iris_are_refused() -> None:
    small = InputLimits(max_term_bytes=1000)
    ok = b'<http://e/s> <http://e/p> "' + "가".encode() * 333 + b'" .\n'
    assert parse_guarded(ok, RdfFormat.N_TRIPLES, limits=small)
    with pytest.raises(InputRefused, match="a literal of 1002 bytes is longer than the limit"):
        parse_guarded(
            ok.replace("가".encode(), "가".encode() * 2, 1), RdfFormat.N_TRIPLES, limits=small
        )
    long_iri = b"<http://e/" + b"s" * 2000 + b"> <http://e/p> <http://e/o> .\n"
    with pytest.raises(InputRefused, match="an IRI of 2009 bytes"):
        parse_guarded(long_iri, RdfFormat.N_TRIPLES, limits=small)


def test_the_term_check_sees_inside_triple_terms() -> None:
    inner = Triple(NamedNode("http://e/s"), NamedNode("http://e/p"), Literal("x" * 5000))
    quad = Quad(NamedNode("http://e/a"), NamedNode("http://e/q"), inner)
    with pytest.raises(InputRefused, match="a literal of 5000 bytes"):
        check_quads([quad], InputLimits(max_term_bytes=1000))


# --- local files: sovkg validate and --data read RDF/XML through the entity check ----------


def test_a_local_rdfxml_file_with_an_entity_bomb_is_refused_with_exit_2(tmp_path: Path) -> None:
    """A validator's CI may run ``sovkg validate`` on files strangers sent: a 1 KB file cannot
    ask for gigabytes, and the reason is named."""
    path = tmp_path / "bomb.rdf"
    path.write_bytes(bomb(9))
    with pytest.raises(LoadError, match=r"bomb\.rdf: refused: .*entity expansion"):
        read_quads(path)
    out = run_sovkg("validate", str(path), timeout=300)
    assert out.returncode == 2
    assert b"entity expansion of this size is refused" in out.stderr
    assert b"Traceback" not in out.stderr


def test_a_local_owl_file_with_namespace_entities_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ontology.rdf"
    path.write_bytes(owl_style_rdfxml())
    assert len(read_quads(path)) == len(list(parse(owl_style_rdfxml(), format=XML)))


def test_an_encoding_expat_does_not_know_is_a_refusal_not_a_crash() -> None:
    """Found by the /shacl fuzzing: expat raised LookupError (a 500) for such a declaration."""
    doctype = b'<!DOCTYPE rdf:RDF [<!ENTITY a "http://example.org/">]>'
    body = b'<?xml version="1.0" encoding="EBCDIC-US"?>\n' + doctype + b"<rdf:RDF/>"
    with pytest.raises(InputRefused, match="unknown encoding: EBCDIC-US"):
        check_bytes(body, XML)
    check_bytes(body.replace(doctype, b""), XML)  # no entities: the parser's to report


@pytest.mark.parametrize("suffix", ["ttl", "nt", "nq", "trig", "rdf", "jsonld"])
def test_load_file_fills_a_store_as_read_quads_reads_the_file(tmp_path: Path, suffix: str) -> None:
    """The server loads files with the store's own parser (no Python object per quad); what it
    loads is what read_quads reads, default-graph triples mapped to the given graph."""
    graph = NamedNode("https://example.org/graph/extra")
    store = Store()
    store.add(
        Quad(NamedNode("https://example.org/a"), RDF_TYPE, NamedNode("https://example.org/C"))
    )
    store.add(
        Quad(
            NamedNode("https://example.org/b"),
            NamedNode("https://example.org/p"),
            Literal("한국어", language="ko"),
            NamedNode("https://example.org/graph/named"),
        )
    )
    fmt = RdfFormat.from_extension(suffix)
    assert fmt is not None
    path = tmp_path / f"data.{suffix}"
    if fmt.supports_datasets:
        path.write_bytes(serialize(store, format=fmt) or b"")
    else:  # a triple syntax holds the default graph only
        path.write_bytes(serialize((q.triple for q in store), format=fmt) or b"")
    loaded = Store()
    load_file(loaded, path, graph)
    assert sorted(map(str, loaded)) == sorted(map(str, read_quads(path, graph)))
    assert len(loaded) == 2


def test_load_file_refuses_what_read_quads_refuses(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text("<http://e/a> <http://e/p> .\n")
    with pytest.raises(LoadError, match=r"broken\.ttl: .*line 1 column 27"):
        load_file(Store(), broken)
    bomb_path = tmp_path / "bomb.rdf"
    bomb_path.write_bytes(bomb(9))
    with pytest.raises(LoadError, match=r"bomb\.rdf: refused: .*entity expansion"):
        load_file(Store(), bomb_path)
    with pytest.raises(LoadError, match="no such file"):
        load_file(Store(), tmp_path / "missing.nq")
