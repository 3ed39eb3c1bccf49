"""Synthetic graphs shaped like ours: the shipped graph replicated as N independent programmes.

Every thing under ``https://w3id.org/ksai/id/`` (programme, teams, organisations, memberships,
support, models, events, passages …) gets a per-copy slug suffix (``…/team/naver-cloud-c17``), and
its Korean and English labels a matching suffix, so each copy is a complete programme with its
own teams, organisations and sources. Controlled vocabularies (``id/concept/…``) and the ontology
stay shared, as they would in a larger real dataset. Each copy therefore conforms to our shapes
exactly when the original does.

    python benchmarks/scale/generate.py --triples 1000000 --output /tmp/kg-1e6.nq
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from pyoxigraph import RdfFormat
from sovkg.dataset import open_store
from sovkg.export import export_dataset

ROOT = Path(__file__).resolve().parents[2]

THINGS = "https://w3id.org/ksai/id/"
_IRI = re.compile(r"<https://w3id\.org/ksai/id/(?!concept/)([^>/]+)/([^>]+)>")
_LABEL = re.compile(
    r"^(\S+ <http://www\.w3\.org/(?:2004/02/skos/core#prefLabel|2000/01/rdf-schema#label)> "
    r"\"(?:[^\"\\]|\\.)*)(\"@(?:ko|en))"
)


def templates() -> tuple[str, str]:
    """(shared N-Quads, per-copy N-Quads template with ``\\x00`` where the suffix goes)."""
    nquads = export_dataset(open_store(), RdfFormat.N_QUADS).decode("utf-8")
    shared, copied = [], []
    for line in nquads.splitlines():
        if "/ksai/graph/ontology/" in line.rsplit(" ", 2)[-2]:
            shared.append(line)
            continue
        if not _IRI.search(line) and "/id/concept/" in line.split(" ", 1)[0]:
            shared.append(line)  # concept schemes: one copy for everybody
            continue
        line = _IRI.sub(lambda m: f"<{THINGS}{m.group(1)}/{m.group(2)}\x00>", line)
        line = _LABEL.sub(lambda m: f"{m.group(1)} \x00{m.group(2)}", line)
        copied.append(line)
    return "\n".join(shared) + "\n", "\n".join(copied) + "\n"


def generate(triples: int, output: Path) -> int:
    """Write about ``triples`` quads to ``output`` (N-Quads); returns the number of copies."""
    shared, template = templates()
    per_copy = template.count("\n")
    copies = max(1, math.ceil((triples - shared.count("\n")) / per_copy))
    with output.open("w", encoding="utf-8") as out:
        out.write(shared)
        for i in range(copies):
            out.write(template.replace("\x00", f"-c{i}"))
    return copies


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--triples", type=int, required=True)
    ap.add_argument("--output", type=Path, required=True)
    args = ap.parse_args()
    copies = generate(args.triples, args.output)
    print(f"{args.output}: {copies} programme copies", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
