"""The example queries shown in the query UI: the questions the graph was built to answer.

Each question is one ``NN-slug.rq`` file in this folder, shipped inside the package. The file
starts with two comment lines that the UI needs and SPARQL ignores::

    # title: Organisations in several teams
    # question: Which organisations take part in more than one team, and in which?

The rest is the query, written without PREFIX declarations: ``sovkg query`` predeclares the
project's prefixes, and :func:`with_prologue` adds the ones a query uses before it goes to a
browser, so every tab stands on its own against any SPARQL endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sovkg.namespaces import PREFIXES

QUERY_DIR = Path(__file__).resolve().parent

_HEADER = re.compile(r"^#\s*(title|question):\s*(.+?)\s*$")


@dataclass(frozen=True)
class ExampleQuery:
    """One competency question: a short tab title, the question itself, its SPARQL text."""

    slug: str
    title: str
    question: str
    body: str


class ExampleQueryError(ValueError):
    """A shipped ``.rq`` file lacks its title or question header."""


def parse_example(slug: str, text: str) -> ExampleQuery:
    """Split one ``.rq`` file into its header fields and the query; fail on a missing header."""
    fields: dict[str, str] = {}
    lines = text.splitlines()
    body_start = 0
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if not m:
            body_start = i
            break
        fields[m.group(1)] = m.group(2)
    else:
        body_start = len(lines)
    missing = {"title", "question"} - fields.keys()
    if missing:
        raise ExampleQueryError(f"{slug}.rq: missing header line(s): {', '.join(sorted(missing))}")
    body = "\n".join(lines[body_start:]).strip() + "\n"
    return ExampleQuery(slug=slug, title=fields["title"], question=fields["question"], body=body)


def load_examples(directory: Path = QUERY_DIR) -> list[ExampleQuery]:
    """Every example query of the folder, in file-name order (the numbering of the questions)."""
    return [
        parse_example(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.rq"))
    ]


def used_prefixes(query: str) -> list[str]:
    """The project prefixes a query writes as ``prefix:local``, in the order of PREFIXES."""
    # Strip IRIs, strings and comments first, so "https://schema.org/" inside <...> or "..."
    # does not count as a use of ``https:`` and a comment does not pull in a prefix.
    stripped = re.sub(
        r"<[^>\s]*>|\"(?:[^\"\\\n]++|\\.)*+\"|'(?:[^'\\\n]++|\\.)*+'|#[^\n]*", " ", query
    )
    return [p for p in PREFIXES if re.search(rf"(?<![\w:]){re.escape(p)}:", stripped)]


def with_prologue(example: ExampleQuery) -> str:
    """The query as a person should see it: the question as a comment, then PREFIX lines."""
    prologue = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in used_prefixes(example.body))
    return f"# {example.question}\n{prologue}\n{example.body}"
