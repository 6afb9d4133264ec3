"""What wraps every answer: security headers, and the page's files for every path that is not the API's."""

from __future__ import annotations

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Everything, the page and the API documentation alike, loads nothing but the service's own files:
# no inline script or style, no other origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
]


class SecurityHeaders:
    """Headers every answer carries, whatever its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PageMount(Mount):
    """The page's files at /, for every path that is not an endpoint of the API.

    A plain Mount("/") matches every path, so a wrong method on an endpoint (OPTIONS /predict)
    would reach the static files and get their "Allow: GET, HEAD"; leaving the API's paths to
    the API gives the honest 405 with "Allow: POST".
    """

    def __init__(self, api_paths: set[str], app: ASGIApp) -> None:
        super().__init__("/", app=app, name="static")
        self.api_paths = api_paths

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"] in self.api_paths:
            return Match.NONE, {}
        return super().matches(scope)
