"""The FastAPI application: create_app(settings) loads the network and starts the worker pool once."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.routing import Route

import model

from . import registry
from .api.examples import examples
from .api.service import Classifier
from .classes.classes_router import router as classes_router
from .config import Settings, get_settings
from .drawings.drawings_router import router as drawings_router
from .interop.protocol_router import router as interop_router
from .transport.errors import IMAGE_FORMS, Failure, describe, failure
from .transport.lane import Lane
from .transport.metrics import Metrics, Shared, publish
from .transport.middleware import PageMount, SecurityHeaders
from .transport.pool import WorkerPool
from .transport.request_log import RequestLog
from .transport.request_path import RequestPath, as_response
from .transport.routing import make_router, named_bodies
from .transport.strict_json import StrictJSONResponse

log = logging.getLogger("uvicorn.error")  # uvicorn configures this one: our lines appear beside its own

# Swagger UI's files, from a package that ships them (fastapi-offline), so /docs works offline and
# under the same Content-Security-Policy as the page: its start-up script is a file of ours, not inline.
SWAGGER_UI = files("fastapi_offline") / "static"


class StartupError(RuntimeError):
    """The service cannot start; the message says why (and what to do)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics() if settings.metrics else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.classifier = Classifier.load(settings.weights)
        except model.WeightsError as e:
            raise StartupError(
                f"cannot start: {e}. Point CNN_WEIGHTS at a weights file written by "
                "`python -m model.train`, or restore weights/ from git."
            ) from None
        pool = WorkerPool(settings, registry.worker)
        await pool.start()
        app.state.pool = pool
        path = app.state.path = RequestPath(settings, app.state.classifier, pool, metrics, registry.BY_NAME)
        publishing = None
        if metrics is not None:
            if settings.metrics_dir is not None:  # several server processes: each leaves its numbers there
                metrics.shared = shared = Shared(settings.metrics_dir)
                publishing = asyncio.create_task(publish(metrics, shared))
            metrics.watch(
                lambda: {
                    "workers": pool.size,
                    "busy": pool.size - pool.idle.qsize(),
                    "waiting": pool.waiting,
                    "replaced": pool.replaced,
                    "training": path.trainers,
                }
            )
        log.info(
            "serving %s (sha256 %s) with %d worker processes",
            settings.weights,
            app.state.classifier.metadata["sha256"][:12],
            pool.size,
        )
        # What start-up built lives as long as the server: out of the collector's sight, a full
        # collection no longer walks it, and stops the event loop for a fraction of the time.
        gc.freeze()
        try:
            yield
        finally:
            pool.close()
            if metrics is not None and publishing is not None:
                publishing.cancel()
                shared.publish(metrics.state())  # its last numbers stay in the others' sums

    app = FastAPI(
        title="NumPy CNN: handwritten digits",
        version="0.1.0",
        description="The convolutional network of 'A gentle explanation of Backpropagation in Convolutional "
        "Neural Network', written from scratch in NumPy and trained on MNIST. Send a digit, get the "
        "softmax probabilities and, if you like, what every layer saw. Every answer is strict JSON "
        "(RFC 8259): a number that is not finite would be null, never NaN or Infinity; losses are "
        "computed from the scores and are always finite.",
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,  # no endpoint, present or future, answers NaN or Infinity
        generate_unique_id_function=lambda route: route.name,  # operationId "predict", not "predict_predict_post"
        docs_url=None,  # served below from files this package ships
        redoc_url=None,
    )
    app.state.settings = settings
    router = make_router(registry.api.ENDPOINTS)
    app.include_router(interop_router)  # OIP v2 under /v2, and /model.onnx; it passes the API's paths on at once
    app.include_router(router)
    app.include_router(drawings_router)  # the class's drawings: its endpoints and its lifespan
    app.include_router(classes_router)  # lessons with a class: after the drawings, whose database it shares

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(settings.static_dir / "docs.html")

    app.mount("/docs/assets", StaticFiles(directory=str(SWAGGER_UI)), name="swagger-ui")

    if metrics is not None:

        @app.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:  # for Prometheus, not for API clients: app/transport/metrics.py
            return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    # The endpoints with a body answer their failures themselves (app/transport/request_path.py,
    # through errors.py); these handlers catch what FastAPI and Starlette raise around them, in the same
    # words: a Failure raised by a route's own step (a database down: 503) is answered as it declares.
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> StrictJSONResponse:
        family = registry.family_of(getattr(request.scope.get("route"), "name", None))
        return StrictJSONResponse(status_code=422, content=family.shape(describe(exc.errors(), IMAGE_FORMS)))

    @app.exception_handler(Failure)
    @app.exception_handler(Exception)
    async def _failure(request: Request, exc: Exception) -> Response:
        family = registry.family_of(getattr(request.scope.get("route"), "name", None))
        return as_response(failure(exc, family))  # the same words and statuses as the request path's

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with the examples of the answers that depend on the weights taken from
        the served network itself: its metadata, its SHA-256, its answer to the example request."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            named_bodies(schema)
            clf = getattr(app.state, "classifier", None) or Classifier.load(settings.weights)
            for name, example in examples(clf, settings).items():
                schema["components"]["schemas"][name]["examples"] = [example]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    api_paths = {route.path for route in [*router.routes, *app.routes] if isinstance(route, Route)}
    if settings.static_dir.is_dir():
        app.router.routes.append(PageMount(api_paths, StaticFiles(directory=settings.static_dir, html=True)))
    # Innermost of ours: the request path's own endpoints, straight to it (app/transport/lane.py).
    app.add_middleware(Lane, routes=[*interop_router.routes, *router.routes], endpoints=registry.BY_NAME)
    if settings.cors_origins:  # explicit: only the listed origins, only the API's methods, no credentials
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    # Outermost: it times everything and sees every status.
    app.add_middleware(RequestLog, metrics=metrics, paths=frozenset(api_paths))
    return app
