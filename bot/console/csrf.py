"""CSRF protection for every state-changing request of the console.

Synchronizer token: each login session has a random token; every form carries
it in a hidden field and every script request in the `X-CSRF-Token` header.
Before login (the login form itself) a random cookie is doubled in the form.
Belt and braces: a request a browser marks as coming from another site
(Origin or Sec-Fetch-Site) is refused outright, and the session cookie is
SameSite=Strict.
"""

from __future__ import annotations

import hmac

from fastapi import Request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRejected(Exception):
    pass


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site.

    The pages send `Referrer-Policy: no-referrer`, so browsers send `Origin: null`
    on our own form posts; `Sec-Fetch-Site` still tells same-origin from cross-site.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True  # the token decides
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


async def check(request: Request, expected: str | None) -> None:
    """Raise CsrfRejected unless the request carries `expected` and comes from us."""
    if not expected or not same_origin(request):
        raise CsrfRejected()
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected()
