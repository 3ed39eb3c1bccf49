"""gzip of responses the client accepts compressed (``Accept-Encoding: gzip``), whole or as a
stream of chunks."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator

from sovkg.negotiation import parse_accept, quality

#: answers smaller than this are sent as they are (gzip would not make them smaller)
GZIP_ABOVE = 512

#: compression level of answers made on the fly (fast; dumps are compressed once, at 9)
LEVEL = 6


def accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding allows gzip (q > 0), read with the same rules as Accept."""
    if not header:
        return False
    ranges = parse_accept(",".join(f"x/{p.strip()}" for p in header.split(",") if p.strip()))
    return quality(ranges, "x/gzip") > 0


def gzip_body(body: bytes) -> bytes:
    """``body`` gzipped (a fixed mtime, so the same bytes give the same answer and ETag)."""
    return gzip.compress(body, compresslevel=LEVEL, mtime=0)


async def gzip_chunks(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks as one gzip stream, each flushed as it comes (a slow result still streams)."""
    encoder = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    async for chunk in chunks:
        out = encoder.compress(chunk) + encoder.flush(zlib.Z_SYNC_FLUSH)
        if out:
            yield out
    yield encoder.flush()


def vary_encoding(vary: str | None) -> str:
    """A Vary header value that also names Accept-Encoding."""
    if not vary:
        return "Accept-Encoding"
    if "accept-encoding" in vary.lower():
        return vary
    return f"{vary}, Accept-Encoding"
