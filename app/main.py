"""The FastAPI application: create_app(settings) loads the network once and maps errors to statuses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import model

from .client_params import InvalidParams
from .config import Settings, get_settings
from .preprocessing import ImageTooLarge, InvalidImage, UnsupportedImage
from .routes import TooManyImages, router
from .schemas import IMAGE_FORMS
from .service import Classifier

log = logging.getLogger("uvicorn.error")  # uvicorn configures this one: our lines appear beside its own


class StartupError(RuntimeError):
    """The service cannot start; the message says why (and what to do)."""


def status_of(exc: Exception) -> int:
    """Each kind of client mistake has one status code, decided here."""
    if isinstance(exc, (ImageTooLarge, TooManyImages)):
        return 413
    if isinstance(exc, UnsupportedImage):
        return 415
    return 422


def describe(exc: RequestValidationError) -> str:
    """Pydantic's errors as one sentence a person can act on, without echoing the input back."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "body" and x not in IMAGE_FORMS)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            message = f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
        parts.append(f"{where}: {message}" if where else message)
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more errors" if more > 0 else "")


class BodyLimit:
    """Refuse request bodies over max_bytes with 413, counting what arrives, not what is claimed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(send)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse({"detail": f"the request body is larger than {self.max_bytes:,} bytes"}, 413)
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


# The page loads nothing but its own files: no inline script or style, no other origin.
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
]


class SecurityHeaders:
    """Headers every answer carries; the page's HTML, CSS and scripts also get the Content-Security-Policy.

    (The interactive API documentation at /docs loads Swagger UI from a CDN, so it is left without
    the policy; the page and the API's JSON need nothing from anywhere else.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        docs = scope["path"] in ("/docs", "/redoc") or scope["path"].startswith("/docs/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *SECURITY_HEADERS]
                if not docs:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message = {**message, "headers": headers}
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.classifier = Classifier.load(settings.weights)
        except model.WeightsError as e:
            raise StartupError(f"cannot start: {e}. Point CNN_WEIGHTS at a weights file written by "
                               "`python -m model.train`, or restore weights/ from git.") from None
        log.info("serving %s (sha256 %s)", settings.weights, app.state.classifier.metadata["sha256"][:12])
        yield

    app = FastAPI(
        title="NumPy CNN: handwritten digits",
        version="0.1.0",
        description="The convolutional network of 'A gentle explanation of Backpropagation in Convolutional "
                    "Neural Network', written from scratch in NumPy and trained on MNIST. Send a digit, get the "
                    "softmax probabilities and, if you like, what every layer saw.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": describe(exc)})

    @app.exception_handler(InvalidParams)
    @app.exception_handler(InvalidImage)
    @app.exception_handler(TooManyImages)
    @app.exception_handler(model.InvalidInput)
    async def _client_mistake(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status_of(exc), content={"detail": str(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette answers a malformed multipart upload with 400 "Invalid multipart data."; every other
        # malformed body here is a 422 that says what is wrong, so this one is too.
        if exc.status_code == 400 and request.url.path == "/predict/image":
            return JSONResponse(status_code=422, content={
                "detail": f"the upload is not valid multipart/form-data ({exc.detail}); send the image as the "
                          "form field 'file', e.g. curl -F file=@digit.png"})
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def _our_mistake(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; it has been logged"})

    if settings.static_dir.is_dir():
        api_paths = {route.path for route in [*router.routes, *app.routes] if isinstance(route, Route)}
        app.router.routes.append(PageMount(api_paths, StaticFiles(directory=settings.static_dir, html=True)))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:  # explicit: only the listed origins, only the API's methods, no credentials
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], allow_credentials=False, max_age=600)
    app.add_middleware(SecurityHeaders)
    return app
