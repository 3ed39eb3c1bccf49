"""``/dumps``: the whole dataset in six syntaxes at stable URLs, and their listing.

Each dump is built once (``sovkg.export.export_dataset``, the bytes of ``sovkg export``) and
served with a strong ETag from its SHA-256; ``If-None-Match`` gives 304; gzip when the client
accepts it (precompressed, with its own ETag).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sovkg.linkeddata.dumps import Dump
from sovkg.negotiation import negotiate, parse_accept, quality
from sovkg.routes.render import html_response, render
from sovkg.routes.web import lang_query, language, ld_state, public_base, root_path

router = APIRouter()


def _accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding allows gzip (q > 0), read with the same rules as Accept."""
    if not header:
        return False
    ranges = parse_accept(",".join(f"x/{p.strip()}" for p in header.split(",") if p.strip()))
    return quality(ranges, "x/gzip") > 0


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def dump_response(request: Request, dump: Dump) -> Response:
    """The dump's bytes (gzip if accepted), or 304 when the client already has them."""
    gz = _accepts_gzip(request.headers.get("accept-encoding"))
    etag = dump.gzip_etag if gz else dump.etag
    headers = {
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": "public, max-age=300",
        "Content-Disposition": f'inline; filename="{dump.filename}"',
    }
    if gz:
        headers["Content-Encoding"] = "gzip"
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    media = dump.media_type + ("; charset=utf-8" if dump.media_type.startswith("text/") else "")
    return Response(dump.gzip_body if gz else dump.body, media_type=media, headers=headers)


@router.api_route("/dumps/{filename}", methods=["GET", "HEAD"])
async def dump(request: Request, filename: str) -> Response:
    """One dump, e.g. ``/dumps/sovereign-ai-kg.ttl``."""
    dumps = await ld_state(request).dumps.get()
    if filename not in dumps:
        names = ", ".join(dumps)
        return PlainTextResponse(f"no dump {filename!r}; there are {names}\n", status_code=404)
    return dump_response(request, dumps[filename])


def listing(request: Request, dumps: dict[str, Dump]) -> list[dict[str, object]]:
    """One entry per dump: URL, syntax, media type, size, SHA-256, whether graphs are kept."""
    base = public_base(request)
    return [
        {
            "filename": d.filename,
            "url": f"{base}/dumps/{d.filename}",
            "format": d.format_name,
            "media_type": d.media_type,
            "bytes": len(d.body),
            "gzip_bytes": len(d.gzip_body),
            "sha256": d.sha256,
            "named_graphs": d.keeps_named_graphs,
        }
        for d in dumps.values()
    ]


@router.api_route("/dumps", methods=["GET", "HEAD"])
async def dumps_index(request: Request) -> Response:
    """The dumps with size and SHA-256: JSON for programs, a table for people."""
    dumps = await ld_state(request).dumps.get()
    entries = listing(request, dumps)
    fmt = request.query_params.get("format")
    chosen: str | None
    if fmt in ("json", "html"):
        chosen = "application/json" if fmt == "json" else "text/html"
    else:
        chosen = negotiate(request.headers.get("accept"), ["text/html", "application/json"])
    if chosen == "application/json":
        return JSONResponse({"dumps": entries}, headers={"Vary": "Accept"})
    if chosen is None:
        return PlainTextResponse(
            "the listing is offered as text/html or application/json\n", status_code=406
        )
    lang = language(request)
    body = render("dumps.html", lang, root_path(request), lang_query(request), dumps=entries)
    return html_response(body, headers={"Vary": "Accept, Accept-Language"})
