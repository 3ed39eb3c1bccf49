"""``POST /shacl``: validate posted RDF against our shapes (or shapes sent along).

The body is RDF in any input syntax (the Content-Type says which), or multipart/form-data with
a ``data`` part and an optional ``shapes`` part. The report is Turtle by default, JSON-LD, plain
text or an HTML page by negotiation; ``SHACL-Conforms: true|false`` tells the verdict without
parsing it. Bodies over the size limit get 413 before they are read in full; unreadable RDF is
a 400 with the parser's message; input past the guard of ``sovkg.rdfinput`` (entity expansion,
nesting, prefixes, term sizes) a 400 naming the limit. Parsing and validation run in a SHACL
worker process (``sovkg.engine.shacl_pool``) with a time limit, a memory limit and a cap on
validations at once: past any of them, 503 with Retry-After.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pyoxigraph import RdfFormat
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sovkg.engine.bounds import worker_memory_mib
from sovkg.engine.shacl_job import ShaclJob, ShaclOutcome
from sovkg.engine.shacl_pool import ShaclPool
from sovkg.errors import InputError, QueryTimeout, SovkgError, WorkerFailed, WorkersBusy
from sovkg.formats import RDF_FORMATS
from sovkg.linkeddata.shacl import (
    INPUT_FORMATS,
    format_for_part,
    input_format,
    media_type_of,
)
from sovkg.negotiation import negotiate
from sovkg.rdfinput import InputRefused, check_bytes
from sovkg.routes.render import html_response, render
from sovkg.routes.web import lang_query, language, root_path

router = APIRouter()

#: the default size limit of a posted body (``--shacl-max-bytes`` / SOVKG_SHACL_MAX_BYTES)
DEFAULT_MAX_BYTES = 2 * 1024 * 1024

_REPORT_TYPES = ["text/turtle", "application/ld+json", "text/html", "text/plain"]


def max_bytes(request: Request) -> int:
    """The configured size limit of a posted body."""
    return int(getattr(request.app.state.settings, "shacl_max_bytes", DEFAULT_MAX_BYTES))


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes (from
    Content-Length before reading, or while counting the streamed chunks)."""
    too_big = InputError(413, f"the body is larger than the limit of {limit} bytes\n")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise too_big
        except ValueError:
            raise InputError(400, "invalid Content-Length") from None
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _named_format(value: str | None) -> RdfFormat | None:
    if not value:
        return None
    value = value.strip().lower()
    return RDF_FORMATS.get(value) or INPUT_FORMATS.get(value)


Part = tuple[bytes, RdfFormat]


def _guard(part: Part, what: str) -> None:
    """The input guard's cheap checks, here, before a worker is taken (400 with the reason)."""
    try:
        check_bytes(part[0], part[1])
    except InputRefused as e:
        raise InputError(400, f"refused the {what}: {e}") from None


async def _part(form: object, name: str, override: RdfFormat | None) -> Part | None:
    value = form.get(name)  # type: ignore[attr-defined]
    if value is None:
        return None
    if isinstance(value, UploadFile):
        data = await value.read()
        fmt = override or format_for_part(value.content_type, value.filename)
    else:
        data = str(value).encode("utf-8")
        fmt = override or RdfFormat.TURTLE
    return data, fmt


async def _from_multipart(request: Request, body: bytes, limit: int) -> tuple[Part, Part | None]:
    sent = False

    async def replay() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=4, max_fields=8, max_part_size=limit
        )
    except Exception as e:  # noqa: BLE001 - the multipart parser's errors have no common base
        raise InputError(400, f"cannot read the multipart body: {e}") from None
    data = await _part(form, "data", _named_format(str(form.get("format") or "")))
    if data is None:
        raise InputError(400, "the multipart body has no 'data' part")
    shapes = await _part(form, "shapes", _named_format(str(form.get("shapes_format") or "")))
    if shapes is not None and not shapes[0].strip():
        shapes = None  # an empty file input in a browser form means "use ours"
    return data, shapes


def report_response(request: Request, report: ShaclOutcome, media: str) -> Response:
    """The report in the negotiated syntax, with the verdict in a header."""
    headers = {"SHACL-Conforms": "true" if report.conforms else "false", "Vary": "Accept"}
    if media == "text/html":
        lang = language(request)
        body = render(
            "shacl_report.html", lang, root_path(request), lang_query(request), report=report
        )
        return html_response(body, headers=headers)
    if media == "text/plain":
        return PlainTextResponse(report.text, headers=headers)
    if media == "application/ld+json":
        return Response(report.body, media_type=media, headers=headers)
    return Response(report.body, media_type="text/turtle; charset=utf-8", headers=headers)


def start_pool(app: Starlette) -> ShaclPool:
    """The application's SHACL workers, started (and warming up, in their own processes) now if
    they are not yet: at server start, by the application's lifespan."""
    state = app.state
    pool: ShaclPool | None = getattr(state, "shacl_pool", None)
    if pool is None:
        settings = state.settings
        pool = ShaclPool(
            concurrency=settings.shacl_concurrency,
            timeout=settings.shacl_timeout,
            memory_mib=worker_memory_mib(settings),
        )
        pool.warm()
        state.shacl_pool = pool
    return pool


def stop_pool(app: Starlette) -> None:
    """End the application's SHACL workers (at server shutdown)."""
    pool: ShaclPool | None = getattr(app.state, "shacl_pool", None)
    if pool is not None:
        pool.close()


def shacl_pool(request: Request) -> ShaclPool:
    """The application's SHACL workers (started here when no lifespan ran, as in tests that
    call the application directly)."""
    return start_pool(request.app)


def _busy(e: SovkgError) -> PlainTextResponse:
    headers = {"Retry-After": str(getattr(e, "retry_after", 5))}
    return PlainTextResponse(f"{e}\n", status_code=e.status, headers=headers)


@router.post("/shacl")
async def shacl(request: Request) -> Response:
    """Validate the posted data in a SHACL worker; 200 with the report whether or not it
    conforms, 400 for unreadable or refused input, 503 (with Retry-After) past the time or
    memory limit or the cap on validations at once."""
    media = negotiate(request.headers.get("accept"), _REPORT_TYPES)
    if media is None:
        offered = ", ".join(_REPORT_TYPES)
        return PlainTextResponse(f"the report is offered as {offered}\n", status_code=406)
    limit = max_bytes(request)
    ctype = request.headers.get("content-type")
    try:
        if media_type_of(ctype) == "multipart/form-data":
            body = await read_limited(request, limit)
            data, shapes = await _from_multipart(request, body, limit)
        else:
            fmt = input_format(ctype)
            data, shapes = (await read_limited(request, limit), fmt), None
        await run_in_threadpool(_guard, data, "data")  # a regex pass over up to the body limit
        if shapes is not None:
            await run_in_threadpool(_guard, shapes, "shapes")
        job = ShaclJob(
            data=data[0],
            data_format=data[1].media_type,
            shapes=shapes[0] if shapes else None,
            shapes_format=shapes[1].media_type if shapes else None,
            report_media=media,
        )
        report = await shacl_pool(request).validate(job)
    except InputError as e:
        return PlainTextResponse(e.message.rstrip("\n") + "\n", status_code=e.status)
    except (WorkersBusy, QueryTimeout, WorkerFailed) as e:
        return _busy(e)
    return report_response(request, report, media)


@router.get("/shacl")
async def shacl_form(request: Request) -> Response:
    """A form for people: upload a file, get the report as a page."""
    lang = language(request)
    body = render(
        "shacl_form.html",
        lang,
        root_path(request),
        lang_query(request),
        formats=sorted({m for m in INPUT_FORMATS if "x-" not in m}),
        limit=max_bytes(request),
    )
    return html_response(body, headers={"Vary": "Accept-Language"})
