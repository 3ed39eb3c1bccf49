"""Safety headers: ``X-Content-Type-Options: nosniff`` on every response, and a
``Content-Security-Policy`` on every HTML response that does not bring its own."""

from __future__ import annotations

#: a policy for HTML that loads nothing from elsewhere and runs no inline script
DEFAULT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def secured(headers: list[tuple[bytes, bytes]], csp: bytes) -> list[tuple[bytes, bytes]]:
    """``headers`` with nosniff, and ``csp`` when they describe HTML without a policy."""
    nosniff = policy = False
    ctype: bytes | None = None
    for k, v in headers:  # one pass: this runs for every response
        k = k.lower()
        if k == b"x-content-type-options":
            nosniff = True
        elif k == b"content-type":
            if ctype is None:  # the first one, as a client reads it
                ctype = v
        elif k == b"content-security-policy":
            policy = True
    if not nosniff:
        headers.append((b"x-content-type-options", b"nosniff"))
    if ctype is not None and b"html" in ctype.lower() and not policy:
        headers.append((b"content-security-policy", csp))
    return headers
