"""uvicorn's h11 protocol without the upgrade detour.

This server speaks neither WebSocket nor h2c. Jena's Java client offers ``Upgrade: h2c`` on its
requests; uvicorn answers them as plain HTTP/1.1 but logs "Unsupported upgrade request" and
advises installing a WebSocket library, which is wrong advice for an operator. Here an offered
upgrade is simply declined: the request is answered as HTTP/1.1 and nothing is logged.
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

#: what to give uvicorn's ``http`` option (an import path, so server workers can load it too)
H11 = "sovkg.http.protocols:PlainH11Protocol"
HTTPTOOLS = "sovkg.http.protocols_httptools:PlainHttpToolsProtocol"


class PlainH11Protocol(H11Protocol):
    """h11, declining every upgrade silently."""

    def _should_upgrade(self) -> bool:
        return False
