"""uvicorn's httptools protocol without the upgrade detour (see :mod:`sovkg.http.protocols`).

Imported only when httptools is installed (``sovkg serve --http httptools``).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class PlainHttpToolsProtocol(HttpToolsProtocol):
    """httptools, declining every upgrade silently.

    The parser stops reading a connection after a request that offered an upgrade (what follows
    would be the other protocol), so the answer to such a request closes the connection.
    """

    def _unsupported_upgrade_warning(self) -> None:
        pass

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.parser.should_upgrade():
            self.cycle.keep_alive = False
