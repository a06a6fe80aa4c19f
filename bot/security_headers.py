"""Security headers on every response of the gateway.

Plain ASGI middleware (no BaseHTTPMiddleware) so bodies stream through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline scripts or styles and nothing from another origin: the chat page
# is plain files under /static, and children's browsers load nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    # After "Thoát nhanh" the next site must not learn where the child came from.
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}
# Conversations are private: no browser or proxy may keep a copy.
NO_STORE_PREFIXES = ("/api/", "/console")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replace = dict(SECURITY_HEADERS)
        if scope["path"].startswith(NO_STORE_PREFIXES):
            replace[b"cache-control"] = b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replace]
                message = {**message, "headers": kept + list(replace.items())}
            await send(message)

        await self.app(scope, receive, send_with_headers)
