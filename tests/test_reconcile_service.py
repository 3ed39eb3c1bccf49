"""/reconcile over real HTTP, as OpenRefine and the Reconciliation API test bench use it: the
manifest (valid against the spec's schema), batches of queries by form POST and GET, types,
suggest, preview, JSONP and CORS, the limits, and the index rebuilt after an update."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import rdflib

from tests.reconcile.spec import errors, surface_forms
from tests.support.server import LiveServer
from tests.support.setups import every_setup

pytestmark = pytest.mark.live

ORG = "http://www.w3.org/ns/org#"
KSAI = "https://w3id.org/ksai/ontology#"
FOAF_PERSON = "http://xmlns.com/foaf/0.1/Person"
TOKEN = "reconcile-test-token"


def manifest_of(url: str) -> dict:
    r = httpx.get(f"{url}/reconcile", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def reconcile(url: str, queries: dict) -> dict:
    """POST a batch as OpenRefine does (a form with a ``queries`` field)."""
    r = httpx.post(f"{url}/reconcile", data={"queries": json.dumps(queries)}, timeout=60)
    assert r.status_code == 200, r.text
    assert not errors("reconciliation-result-batch", r.json())
    return r.json()


def batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def top_of(url: str, texts: list[str], **query: object) -> dict[str, dict]:
    """The first candidate of each text ({} when there is none)."""
    size = manifest_of(url)["batchSize"]
    out: dict[str, dict] = {}
    for chunk in batches(texts, size):
        queries = {f"q{i}": {"query": t, **query} for i, t in enumerate(chunk)}
        answer = reconcile(url, queries)
        for i, t in enumerate(chunk):
            result = answer[f"q{i}"]["result"]
            out[t] = result[0] if result else {}
    return out


# the manifest


@every_setup
def test_the_manifest_validates_against_the_spec_schema(live_server: LiveServer) -> None:
    manifest = manifest_of(live_server.url)
    assert not errors("manifest", manifest)
    assert "0.2" in manifest["versions"]
    assert manifest["identifierSpace"] == "https://w3id.org/ksai/id/"
    default = {t["id"] for t in manifest["defaultTypes"]}
    assert {ORG + "Organization", KSAI + "Consortium", FOAF_PERSON, KSAI + "FoundationModel"} <= (
        default
    )
    assert manifest["view"]["url"] == f"{live_server.url}/id/{{{{id}}}}"
    assert manifest["preview"]["url"].startswith(f"{live_server.url}/reconcile/preview?")


def test_an_invalid_manifest_would_fail_the_schema() -> None:
    # the schema is really applied: a manifest without its name is refused
    assert errors("manifest", {"versions": ["0.2"], "identifierSpace": "x", "schemaSpace": "y"})


def test_the_view_template_opens_the_entity_page(live_server: LiveServer) -> None:
    template = manifest_of(live_server.url)["view"]["url"]
    # clients percent-encode the identifier as a URI component
    url = template.replace("{{id}}", quote("organization/kaist", safe=""))
    r = httpx.get(url, headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 200
    assert "<title>KAIST" in r.text


# matching, over the API


@every_setup
def test_every_surface_form_in_the_article_is_the_top_candidate_and_a_match(
    live_server: LiveServer,
) -> None:
    space = manifest_of(live_server.url)["identifierSpace"]
    forms = surface_forms()
    tops = top_of(live_server.url, [f for f, _ in forms])
    wrong = {
        form: (tops[form].get("id"), tops[form].get("match"))
        for form, ident in forms
        if (space + tops[form].get("id", ""), tops[form].get("match")) != (space + ident, True)
    }
    assert not wrong


def test_lower_cased_and_misspelt_english_names_find_the_right_one(
    live_server: LiveServer,
) -> None:
    expected = {
        "seoul national university": "organization/seoul-national-university",
        "Seoul Natoinal Univ.": "organization/seoul-national-university",
        "korea univeristy": "organization/korea-university",
        "upstag": "organization/upstage",
        "sk telekom": "organization/sk-telecom",
        "naver clowd": "organization/naver-cloud",
        "rebelions": "organization/rebellions",
        "furiosa ai": "organization/furiosaai",
        "twelve lab": "organization/twelve-labs",
        "lotte inovate": "organization/lotte-innovate",
        "samsung sds": "organization/samsung-sds",
        "kaist": "organization/kaist",
    }
    tops = top_of(live_server.url, list(expected))
    assert {t: tops[t].get("id") for t in expected} == expected


def test_a_name_not_in_the_graph_gets_no_match(live_server: LiveServer) -> None:
    absent = ["Samsung Electronics", "Kakao", "서울대학교병원", "Seoul University", "LG", "OpenAI"]
    answer = reconcile(
        live_server.url, {f"q{i}": {"query": t, "limit": 10} for i, t in enumerate(absent)}
    )
    matched = {
        t: c["id"] for i, t in enumerate(absent) for c in answer[f"q{i}"]["result"] if c["match"]
    }
    assert not matched


def test_type_filters_restrict_the_candidates(live_server: LiveServer) -> None:
    answer = reconcile(
        live_server.url,
        {
            "team": {"query": "업스테이지", "type": KSAI + "Consortium", "limit": 10},
            "org": {"query": "업스테이지", "type": [ORG + "Organization"], "limit": 10},
            "prefixed": {"query": "업스테이지", "type": "ksai:Consortium", "limit": 10},
            "model": {"query": "업스테이지", "type": KSAI + "FoundationModel"},
            "person": {"query": "Lee Ho-jun", "type": FOAF_PERSON},
        },
    )
    assert [c["id"] for c in answer["team"]["result"]] == ["team/upstage"]
    assert answer["team"]["result"][0]["match"] is False  # 업스테이지 is the company's name
    assert answer["org"]["result"][0]["id"] == "organization/upstage"
    assert answer["prefixed"]["result"] == answer["team"]["result"]
    assert answer["model"]["result"] == []
    people = answer["person"]["result"]
    assert people[0]["id"] == "person/lee-ho-jun"
    assert all(c["id"].startswith("person/") for c in people)
    types = {t["id"] for t in answer["org"]["result"][0]["type"]}
    assert "http://purl.org/cerif/frapo/Company" in types


def test_a_team_property_raises_its_member(live_server: LiveServer) -> None:
    prop = [{"pid": "org:memberOf", "v": {"id": "team/naver-cloud", "name": "Naver Cloud team"}}]
    answer = reconcile(
        live_server.url,
        {"plain": {"query": "고려대"}, "team": {"query": "고려대", "properties": prop}},
    )

    def score(key: str, ident: str) -> float:
        return next(c["score"] for c in answer[key]["result"] if c["id"] == ident)

    iacf = "organization/korea-university-iacf"
    assert score("team", iacf) > score("plain", iacf)
    assert score("team", "organization/korea-university") == score(
        "plain", "organization/korea-university"
    )


def test_get_with_queries_answers_like_post(live_server: LiveServer) -> None:
    queries = {"q0": {"query": "포티투닷"}}
    r = httpx.get(f"{live_server.url}/reconcile", params={"queries": json.dumps(queries)})
    assert r.status_code == 200
    assert r.json() == reconcile(live_server.url, queries)
    assert r.json()["q0"]["result"][0]["id"] == "organization/42dot"


def test_candidate_names_follow_the_language_of_the_query(live_server: LiveServer) -> None:
    answer = reconcile(live_server.url, {"ko": {"query": "크래프톤"}, "en": {"query": "Krafton"}})
    assert answer["ko"]["result"][0]["name"] == "크래프톤"
    assert answer["en"]["result"][0]["name"] == "Krafton"


# JSONP and CORS


def test_jsonp_wraps_the_manifest_and_results(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/reconcile", params={"callback": "jQuery123_456"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert r.text.startswith("/**/jQuery123_456(") and r.text.endswith(");")
    assert json.loads(r.text[len("/**/jQuery123_456(") : -2])["name"]
    r = httpx.get(
        f"{live_server.url}/reconcile",
        params={"callback": "cb", "queries": json.dumps({"q": {"query": "NHN"}})},
    )
    assert json.loads(r.text[len("/**/cb(") : -2])["q"]["result"][0]["id"] == "organization/nhn"


@pytest.mark.parametrize("callback", ["alert(1)//", "a b", "<script>", "1abc", "x" * 65])
def test_a_callback_that_is_not_an_identifier_is_refused(
    live_server: LiveServer, callback: str
) -> None:
    r = httpx.get(f"{live_server.url}/reconcile", params={"callback": callback})
    assert r.status_code == 400
    assert "callback" in r.json()["error"]


def test_every_endpoint_is_open_to_other_origins(live_server: LiveServer) -> None:
    url = live_server.url
    origin = {"Origin": "http://127.0.0.1:3333"}  # OpenRefine in a browser
    for r in (
        httpx.get(f"{url}/reconcile", headers=origin),
        httpx.post(f"{url}/reconcile", data={"queries": '{"q":{"query":"NHN"}}'}, headers=origin),
        httpx.get(f"{url}/reconcile/suggest/entity", params={"prefix": "NH"}, headers=origin),
        httpx.get(f"{url}/reconcile/preview", params={"id": "organization/nhn"}, headers=origin),
        httpx.post(f"{url}/reconcile", data={"queries": "{"}, headers=origin),
    ):
        assert r.headers["access-control-allow-origin"] == "*", r.url
    pre = httpx.request(
        "OPTIONS",
        f"{url}/reconcile",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204
    assert "POST" in pre.headers["access-control-allow-methods"]


# limits and bad input


@pytest.mark.parametrize(
    ("queries", "status", "reason"),
    [
        ("{not json", 400, "not valid JSON"),
        ("[]", 400, "JSON object"),
        ("{}", 400, "no query"),
        ('{"q": "서울대"}', 400, "JSON object"),
        ('{"q": {"query": ""}}', 400, "empty"),
        ('{"q": {"query": 5}}', 400, "must be a string"),
        ('{"q": {"limit": 3}}', 400, "needs a 'query'"),
        ('{"q": {"query": "x", "limit": 0}}', 400, "positive integer"),
        ('{"q": {"query": "x", "limit": "3"}}', 400, "positive integer"),
        ('{"q": {"query": "x", "limit": Infinity}}', 400, "positive integer"),
        ('{"q": {"query": "x", "limit": NaN}}', 400, "positive integer"),
        ('{"q": {"query": "x", "limit": 1e999}}', 400, "positive integer"),
        ('{"q": {"query": "x", "limit": ' + "9" * 100_000 + "}}", 400, "number that is too long"),
        ('{"q": {"query": "x", "type": 7}}', 400, "'type'"),
        ('{"q": {"query": "x", "conditions": []}}', 400, "'conditions'"),
        ('{"q": {"query": "x", "properties": [{"pid": "p"}]}}', 400, "'pid' and 'v'"),
        ('{"q": {"query": "x", "type_strict": "most"}}', 400, "type_strict"),
        ('{"q": {"query": "x", "properties": [{"pid": "a b", "v": "c"}]}}', 400, "property IRI"),
        ('{"q": {"query": "\\ud800"}}', 400, "not valid Unicode"),
        ('{"\\udc00": {"query": 1}}', 400, "must be a string"),
        (json.dumps({"q": {"query": "가" * 201}}), 400, "at most 200"),
        (json.dumps({f"q{i}": {"query": "x"} for i in range(51)}), 413, "at most 50"),
    ],
)
def test_bad_batches_get_a_4xx_naming_the_cause(
    live_server: LiveServer, queries: str, status: int, reason: str
) -> None:
    r = httpx.post(f"{live_server.url}/reconcile", data={"queries": queries}, timeout=30)
    assert r.status_code == status, r.text
    assert reason in r.json()["error"]


def test_a_post_that_is_not_a_form_is_refused(live_server: LiveServer) -> None:
    r = httpx.post(f"{live_server.url}/reconcile", json={"q": {"query": "x"}})
    assert r.status_code == 415
    assert "x-www-form-urlencoded" in r.json()["error"]


def test_data_extension_is_not_offered(live_server: LiveServer) -> None:
    r = httpx.post(f"{live_server.url}/reconcile", data={"extend": '{"ids":[],"properties":[]}'})
    assert r.status_code == 400
    assert "extend" in r.json()["error"]


def test_a_limit_above_the_maximum_is_lowered(live_server: LiveServer) -> None:
    answer = reconcile(live_server.url, {"q": {"query": "a", "limit": 10_000}})
    assert len(answer["q"]["result"]) <= 50


# suggest and preview


def test_entity_suggest_follows_the_spec(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/reconcile/suggest/entity", params={"prefix": "포티"})
    assert r.status_code == 200
    assert not errors("suggest-entities-response", r.json())
    assert r.json()["result"][0]["id"] == "organization/42dot"
    more = httpx.get(
        f"{live_server.url}/reconcile/suggest/entity", params={"prefix": "LG", "cursor": "2"}
    ).json()["result"]
    first = httpx.get(
        f"{live_server.url}/reconcile/suggest/entity", params={"prefix": "LG"}
    ).json()["result"]
    assert more and first[2]["id"] == more[0]["id"]
    bad = httpx.get(f"{live_server.url}/reconcile/suggest/entity", params={"cursor": "x"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]


def test_type_suggest_follows_the_spec(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/reconcile/suggest/type", params={"prefix": "consortium"})
    assert r.status_code == 200
    assert not errors("suggest-types-response", r.json())
    assert {t["id"] for t in r.json()["result"]} == {KSAI + "Consortium"}


def test_the_preview_card_shows_labels_kind_teams_and_sentence(live_server: LiveServer) -> None:
    preview = manifest_of(live_server.url)["preview"]
    url = preview["url"].replace("{{id}}", quote("organization/snu-iacf", safe=""))
    r = httpx.get(url, headers={"Accept-Language": "ko"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    # shown inside OpenRefine's iframe: framing allowed, nothing else loaded from elsewhere
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "default-src 'none'" in csp
    assert "x-frame-options" not in r.headers
    for text in (
        "서울대학교 산학협력단",
        "서울대 산학협력단",
        "산학협력단",
        "네이버클라우드 정예팀",
    ):
        assert text in r.text
    assert "트웰브랩스" in r.text  # the sentence that lists the Naver Cloud team's members
    assert (
        httpx.get(f"{live_server.url}/reconcile/preview", params={"id": "nope/x"}).status_code
        == 404
    )
    assert httpx.get(f"{live_server.url}/reconcile/preview").status_code == 400


# where the service is announced


def test_void_and_the_home_page_link_the_service(live_server: LiveServer) -> None:
    void = rdflib.Graph().parse(
        data=httpx.get(f"{live_server.url}/.well-known/void").text, format="turtle"
    )
    service = rdflib.URIRef(f"{live_server.url}/reconcile")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    assert (service, rdflib.RDF.type, dcat.DataService) in void
    assert (service, dcat.endpointURL, service) in void
    home = httpx.get(f"{live_server.url}/", headers={"Accept": "text/html"}).text
    assert 'href="/reconcile"' in home
    assert 'action="/search"' in home


def test_the_search_page_works_without_script(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/search", params={"q": "포티투닷"})
    assert r.status_code == 200
    assert 'href="/id/organization/42dot"' in r.text
    long = httpx.get(f"{live_server.url}/search", params={"q": "x" * 300})
    assert long.status_code == 400 and "at most 200" in long.text


# the index follows updates


@pytest.fixture(scope="module")
def writable() -> Iterator[LiveServer]:
    server = LiveServer("--allow-updates", env={"SOVKG_TOKEN": TOKEN})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_the_index_is_rebuilt_after_an_update(writable: LiveServer) -> None:
    name = "카카오브레인"
    before = reconcile(writable.url, {"q": {"query": name}})["q"]["result"]
    assert not any(c["match"] for c in before)
    update = (
        "INSERT DATA { <https://w3id.org/ksai/id/organization/kakao-brain> a "
        "<http://www.w3.org/ns/org#FormalOrganization> ; "
        f'<http://www.w3.org/2004/02/skos/core#prefLabel> "{name}"@ko, "Kakao Brain"@en }}'
    )
    r = httpx.post(
        f"{writable.url}/sparql",
        data={"update": update},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert r.status_code == 204, r.text
    after = reconcile(writable.url, {"ko": {"query": name}, "en": {"query": "kakao brain"}})
    for key in ("ko", "en"):
        assert after[key]["result"][0]["id"] == "organization/kakao-brain"
        assert after[key]["result"][0]["match"] is True
