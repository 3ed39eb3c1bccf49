"""The tokenizers that read client text in the server process use memory that does not grow
with the length of a string literal.

They used to match a string one character per repetition of an alternation, which Python's
regular expression engine backs with about 200 bytes of state per character: one 8 MB literal
in an anonymous query cost the server process 1.5-3 GB and blocked its event loop for seconds
(the SERVICE/LOAD guard and the syntax error explanation read it there). Each check here runs
in a child process whose data segment is capped far below that, so the old patterns fail with
a MemoryError and the new ones pass.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap

#: the child's data segment: the literal and its copies fit, 200 bytes per character do not
CAP_BYTES = 400 * 1024 * 1024
LITERAL = 8_000_000


def _run_capped(code: str) -> dict[str, object]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (CAP_BYTES, CAP_BYTES))

    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        preexec_fn=cap,
        timeout=120,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_sparql_lexer_guard_and_explanation_read_a_long_literal_in_bounded_memory() -> None:
    out = _run_capped(
        f"""
        import json
        from sovkg.sparql.guard import outbound_keywords
        from sovkg.sparql.lexer import tokens
        from sovkg.sparql.syntax import explain
        body = "x" * {LITERAL}
        query = 'ASK {{ ?s ?p "' + body + '" }} # service'
        kinds = [t.kind for t in tokens(query)]
        q3, q1 = '"' * 3, "'"
        long = "ASK {{ ?s ?p " + q3 + body + q3 + " . ?s ?p " + q1 + body + q1 + " }}"
        triple = [t.kind for t in tokens(long)]
        # the keyword inside the literal and the comment is not SERVICE; one after it is
        clean = outbound_keywords(query)
        caught = outbound_keywords('SELECT * {{ ?s ?p "' + body + '" SERVICE <x:y> {{}} }}')
        message = explain('ASK {{ ?s ?p "' + body + '" ', "error at 1:99999999: expected '}}'")
        print(json.dumps({{"kinds": kinds, "triple": triple, "clean": sorted(clean),
                          "caught": sorted(caught), "message": bool(message)}}))
        """
    )
    assert out["kinds"] == ["word", "other", "var", "var", "string", "other"]
    assert out["triple"] == [*["word", "other"], *["var", "var", "string", "other"] * 2]
    assert out["clean"] == []
    assert out["caught"] == ["service"]
    assert out["message"] is True


def test_rdf_input_checks_read_a_long_literal_in_bounded_memory_and_still_count_depth() -> None:
    out = _run_capped(
        f"""
        import json
        from pyoxigraph import RdfFormat
        from sovkg.rdfinput import InputLimits, InputRefused, check_bytes
        body = "x" * {LITERAL}
        results = {{}}
        q3 = '"' * 3
        ttl = '<urn:a> <urn:p> "' + body + '" .\\n<urn:a> <urn:q> ' + q3 + body + q3 + ' .\\n'
        check_bytes(ttl.encode(), RdfFormat.TURTLE)
        results["turtle"] = "passed"
        jsonld = '{{"@id": "urn:a", "urn:p": "' + body + '"}}'
        check_bytes(jsonld.encode(), RdfFormat.JSON_LD)
        results["jsonld"] = "passed"
        # brackets after the literal still count: the limit is reached past it
        deep = '{{"urn:p": "' + body + '", "urn:q": ' + "[" * 5 + "1" + "]" * 5 + "}}"
        try:
            check_bytes(deep.encode(), RdfFormat.JSON_LD, InputLimits(max_depth=3))
            results["deep"] = "passed"
        except InputRefused as e:
            results["deep"] = str(e)
        print(json.dumps(results))
        """
    )
    assert out["turtle"] == "passed"
    assert out["jsonld"] == "passed"
    assert "nest" in str(out["deep"]).lower() or "deep" in str(out["deep"]).lower(), out["deep"]
