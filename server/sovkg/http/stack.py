"""The HTTP layers every request passes through, outermost first: the access log, the request
limits, then the safety headers."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.types import ASGIApp

from sovkg.http.accesslog import AccessLog
from sovkg.http.headers import DEFAULT_CSP, SecurityHeaders
from sovkg.http.limits import RequestLimits


def layers(
    *,
    max_body: int = 8 * 1024 * 1024,
    max_url: int = 8192,
    body_timeout: float = 30.0,
    csp: str = DEFAULT_CSP,
    access_log: bool = True,
) -> list[Middleware]:
    """The layers, outermost first (the access log only if ``access_log``)."""
    out = [Middleware(AccessLog)] if access_log else []
    out.append(
        Middleware(RequestLimits, max_body=max_body, max_url=max_url, body_timeout=body_timeout)
    )
    out.append(Middleware(SecurityHeaders, csp=csp))
    return out


def hardened(
    app: ASGIApp,
    *,
    max_body: int = 8 * 1024 * 1024,
    max_url: int = 8192,
    body_timeout: float = 30.0,
    csp: str = DEFAULT_CSP,
    access_log: bool = True,
) -> ASGIApp:
    """``app`` inside :func:`layers` (for a bare ASGI application)."""
    chosen = layers(
        max_body=max_body,
        max_url=max_url,
        body_timeout=body_timeout,
        csp=csp,
        access_log=access_log,
    )
    for layer in reversed(chosen):
        app = layer.cls(app, *layer.args, **layer.kwargs)
    return app
