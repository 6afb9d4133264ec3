"""Every endpoint of the API, declared once: the router, the request path, the workers, the OpenAPI
document and the metrics all read this table (app/api/routes.py, app/transport/request_path.py,
app/api/dispatch.py, app/transport/metrics.py).

Adding an endpoint: its handler (a function of its request and a Call, app/api/handlers.py or a
module of its own), its models (app/api/requests.py, responses.py, or its own), and one Endpoint here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends
from fastapi import Path as InPath
from pydantic import BaseModel, Field

from app.classes import answers as class_answers
from app.classes import models as class_models
from app.config import Settings
from app.drawings import answers as drawing_answers
from app.drawings import bulk as drawings_bulk
from app.drawings import models as drawing_models
from app.drawings import tuning as drawings_tuning
from app.drawings import work as drawings
from app.errors import ErrorShape, as_detail, failure
from app.interop import documents as oip_documents
from app.interop import jobs as interop_jobs
from app.interop import schemas as interop_schemas
from app.transport.facts import Facts
from app.transport.jobs import Answer, Job

from . import handlers, lab_responses, requests, responses
from .error_docs import ERRORS
from .service import Classifier
from .uploads import uploaded_file

INLINE_BYTES = 32 * 1024  # a /predict body up to this size is answered on the event loop
ONNX_BODY_BYTES = 64 * 1024  # POST /model.onnx carries ~21 KB of parameters
TUNING_BODY_BYTES = 64 * 1024  # /drawings/tune carries a run's state (42 KB at most), weights ~21 KB of params


@dataclass(frozen=True)
class Body:
    """How an endpoint's request body is read: its media type, how its bytes become the handler's
    request (in the process that answers), and its OpenAPI requestBody schema."""

    media_type: str | None  # None: any (the handler tells its forms apart)
    read: Callable[[Job, Settings], Any]
    schema: dict[str, Any]  # a JSON body's becomes a named component (routes.named_bodies)
    header: str | None = None  # a request header the handler reads too (Job.inference_header)


def json_body(model: type[BaseModel]) -> Body:
    """A JSON object validated as `model` straight from its text (pydantic's parser, one pass)."""

    def read(job: Job, settings: Settings) -> Any:
        return model.model_validate_json(job.body, context={"max_drawing_side": settings.max_drawing_side})

    return Body("application/json", read, model.model_json_schema(ref_template="#/components/schemas/{model}"))


def upload_body(description: str) -> Body:
    """multipart/form-data with one file, in the form field "file": the handler gets its bytes."""
    file = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
    schema = {"type": "object", "required": ["file"], "properties": {"file": file | {"description": description}}}
    return Body("multipart/form-data", lambda job, _: uploaded_file(job.body, job.content_type), schema)


def binary_body(media_type: str = "application/octet-stream") -> Body:
    """The body's bytes as they came."""
    return Body(media_type, lambda job, _: job.body, {"type": "string", "format": "binary"})


Cost = Literal["memory", "database", "light", "heavy", "training", "stream"]
COSTS: dict[str, str] = {  # what each cost class means, for the OpenAPI document (x-cost)
    "memory": "answered from memory on the event loop: microseconds",
    "database": "the event loop's microseconds, and a bounded query of the database in a thread",
    "light": "a forward pass: a small body is answered on the event loop, a larger one by a worker",
    "heavy": "milliseconds to a second of one worker process's CPU, within its budget",
    "training": "up to a second of a worker's CPU, and one of a few training slots (429 when all are taken)",
    "stream": "a long-lived stream: a bounded buffer, nothing while idle; bounded per process and per address (503)",
}


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One endpoint: what it is (for the router and OpenAPI), how it is answered (for the request
    path and the workers), and what it may cost."""

    name: str  # the handler's name: the operationId, the metrics' endpoint label, the key of a Job
    operation: str | None = None  # the operationId and route name, when not `name` (kept as clients know them)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    handler: Callable[[Any, handlers.Call], Any] | None = None  # -> JSON-ready content, or bytes in media_type
    # An async step of its own on the event loop, its database work in threads: called by the router with
    # the request, this declaration and the validated parameters, it answers (a Response, or the response
    # model's content), handing the body to the request path as declared if it has a handler.
    serve: Callable[..., Awaitable[Any]] | None = None
    summary: str
    request: Body | None = None  # its body; None: it reads none (GET)
    response: type[BaseModel] | None  # the JSON answer's model; None for an answer of another media type
    cost: Cost
    query: type[BaseModel] | None = None  # its query parameters, validated by FastAPI
    headers: type[BaseModel] | None = None  # its header parameters, validated by FastAPI (serve's only)
    path_types: dict[str, Any] = field(default_factory=dict)  # its path parameters' types; text unless said
    dependencies: tuple[Any, ...] = ()  # FastAPI's dependencies (Depends), run before it: who may call it
    status: int = 200  # of a success
    runs: Literal["loop", "pool"] = "pool"  # where the handler runs: the event loop or a worker process
    inline_bytes: int = 0  # runs on "pool": a body of at most this many bytes is first tried on the loop
    training_slot: bool = False  # takes one of the few training slots while it runs
    media_type: str = "application/json"  # of the answer
    errors: dict[int, str] = field(default_factory=dict)  # statuses beyond the common ones, and why
    error_shape: ErrorShape = as_detail  # the JSON of a failure: the family's own shape
    failure: Callable[[BaseException], Answer] | None = None  # the family's own wording; None: errors.py's
    body_bytes: int | None = None  # the largest body it takes; None: CNN_MAX_BODY_BYTES
    identity_only: bool = False  # a body with a Content-Encoding is refused (415), never inflated
    check: Callable[[dict[str, Any], Classifier], None] | None = None  # refuses by the path alone, before the body
    documented_errors: dict[int | str, dict[str, Any]] | None = None  # the family's own; None: app/api/routes.py's
    openapi: dict[str, Any] = field(default_factory=dict)  # what the document says beyond the above

    @property
    def description(self) -> str:
        return inspect.cleandoc((self.serve or self.handler).__doc__ or "")

    def fail(self, e: BaseException) -> Answer:
        """The answer to a failure, in the endpoint family's words."""
        return self.failure(e) if self.failure is not None else failure(e, self.error_shape)


class ImageQuery(BaseModel):
    feature_maps: bool = Field(False, description="also return the feature maps")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="predict", method="POST", path="/predict", handler=handlers.predict,
        summary="Classify one 28x28 grid (or a raw drawing)",
        request=json_body(requests.PredictRequest), response=responses.PredictResponse,
        cost="light", inline_bytes=INLINE_BYTES,
    ),
    Endpoint(
        name="explain", method="POST", path="/explain", handler=handlers.explain,
        summary="Backpropagation for your own drawing: every gradient of -ln O_label",
        request=json_body(requests.ExplainRequest), response=lab_responses.ExplainResponse, cost="heavy",
    ),
    Endpoint(
        name="teach", method="POST", path="/teach", handler=handlers.teach,
        summary="One SGD step (eq. 66) on a copy of the network; the shared one never changes",
        request=json_body(requests.TeachRequest), response=lab_responses.TeachResponse, cost="heavy",
    ),
    Endpoint(
        name="nudge", method="POST", path="/nudge", handler=handlers.nudge,
        summary="Make it a 9: change the drawing, not the network, by gradient steps on the image",
        request=json_body(requests.NudgeRequest), response=lab_responses.NudgeResponse, cost="heavy",
    ),
    Endpoint(
        name="equation", method="POST", path="/equation", handler=handlers.equation,
        summary="One of the article's equations with your drawing's numbers in it, for one cell",
        request=json_body(requests.EquationRequest), response=lab_responses.EquationResponse, cost="heavy",
    ),
    Endpoint(
        name="check", method="POST", path="/check", handler=handlers.check,
        summary="Check one number of one gradient by hand: the central difference in float64 beside backpropagation",
        request=json_body(requests.CheckRequest), response=lab_responses.CheckResponse, cost="heavy",
    ),
    Endpoint(
        name="train", method="POST", path="/train", handler=handlers.train,
        summary="Train a fresh network, a few hundred steps at a time; the run travels with the request",
        request=json_body(requests.TrainRequest), response=lab_responses.TrainResponse,
        cost="training", training_slot=True,
        errors={429: "every training slot is taken; retry after a second"},
    ),
    Endpoint(
        name="predict_image", method="POST", path="/predict/image", handler=handlers.predict_image,
        summary="Classify an image file (PNG, JPEG, GIF, BMP, WebP)",
        request=upload_body("the image (PNG, JPEG, GIF, BMP or WebP), any size up to the pixel limit"),
        query=ImageQuery, response=responses.PredictResponse, cost="heavy",
    ),
    Endpoint(
        name="predict_batch", method="POST", path="/predict/batch", handler=handlers.predict_batch,
        summary="Classify many 28x28 grids at once",
        request=json_body(requests.BatchRequest), response=responses.BatchResponse, cost="heavy",
    ),
    Endpoint(
        name="model_info", method="GET", path="/model", handler=handlers.model_info,
        summary="What network answers, and how it was trained",
        response=responses.ModelInfo, cost="memory", runs="loop",
    ),
    Endpoint(
        name="kernels", method="GET", path="/model/kernels", handler=handlers.kernels,
        summary="The convolution kernels and biases", response=responses.Kernels, cost="memory", runs="loop",
    ),
    Endpoint(
        name="healthz", method="GET", path="/healthz", handler=handlers.healthz,
        summary="Liveness and readiness", response=responses.Health, cost="memory", runs="loop",
    ),
)  # fmt: skip


def job_handler(run: Callable[[Job, Classifier, Settings, bool, Facts], Any]) -> Callable[[Job, handlers.Call], Any]:
    """A handler written for the whole Job (app/drawings/, app/interop/), as a handler of the table."""

    def handler(job: Job, call: handlers.Call) -> Any:
        return run(job, call.classifier, call.settings, call.on_loop, call.facts)

    handler.__doc__ = run.__doc__
    return handler


def the_job(media_type: str | None, header: str | None = None, model: type[BaseModel] | None = None) -> Body:
    """The Job itself as the handler's request; `model`, a JSON body's, for the document (else its
    family documents the body itself)."""
    return Body(media_type, lambda job, _: job, {} if model is None else json_body(model).schema, header)


TEACHER = (Depends(drawing_answers.teacher),)  # 404 while the collection is off, 401 without the token
# The class's drawings (app/drawings/): the router runs their `serve` steps, whose database work is in threads.
DRAWINGS: tuple[Endpoint, ...] = (
    Endpoint(
        name="read_drawing", operation="save_drawing", method="POST", path="/drawings",
        handler=job_handler(drawings.read_drawing), serve=drawing_answers.save_drawing,
        summary="Save a drawing for the class, with the digit it is meant to be",
        request=the_job("application/json", model=drawing_models.SaveRequest), headers=drawing_answers.SaveHeaders,
        response=drawing_models.SaveResponse, status=201, cost="light", inline_bytes=INLINE_BYTES,
        documented_errors=ERRORS | drawing_answers.SAVE_ERRORS,
    ),
    Endpoint(
        name="list_drawings", method="GET", path="/drawings", serve=drawing_answers.list_drawings,
        summary="The class's drawings", query=drawing_answers.PageQuery, response=drawing_models.DrawingPage,
        cost="database", runs="loop", dependencies=TEACHER, documented_errors=drawing_answers.TEACHER_ERRORS,
    ),
    Endpoint(
        name="summary", method="GET", path="/drawings/summary", serve=drawing_answers.summary,
        summary="How the network reads the class", query=drawing_answers.ClassQuery, response=drawing_models.Summary,
        cost="database", runs="loop", dependencies=TEACHER, documented_errors=drawing_answers.TEACHER_ERRORS,
    ),
    Endpoint(
        name="export", method="GET", path="/drawings/export", serve=drawing_answers.export,
        summary="The collection as MNIST: npz (images, labels) or the IDX files, zipped",
        query=drawing_answers.ExportQuery, response=None, cost="database", runs="loop", dependencies=TEACHER,
        documented_errors=drawing_answers.TEACHER_ERRORS | drawing_answers.EXPORT_DOC,
    ),
    Endpoint(
        name="delete_drawing", method="DELETE", path="/drawings/{drawing_id}", serve=drawing_answers.delete_drawing,
        summary="Remove one drawing", path_types={"drawing_id": Annotated[int, InPath(ge=1, le=2**62)]},
        response=None, status=204, cost="database", runs="loop", dependencies=TEACHER,
        documented_errors=drawing_answers.TEACHER_ERRORS | drawing_answers.DELETE_ERRORS,
    ),
    Endpoint(
        name="delete_drawings", method="DELETE", path="/drawings", serve=drawings_bulk.delete_drawings,
        summary="Remove many drawings: a selection of ids, or all from the last minutes (dry_run says how many)",
        query=drawings_bulk.BulkQuery, response=drawings_bulk.BulkDeleted,
        cost="database", runs="loop", dependencies=TEACHER, documented_errors=drawing_answers.TEACHER_ERRORS,
    ),
    Endpoint(
        name="tune_drawings", operation="tune", method="POST", path="/drawings/tune",
        handler=job_handler(drawings_tuning.tune_job), serve=drawing_answers.tune,
        summary="Fine-tune a copy of the served network on the class's drawings, a few steps at a time",
        request=the_job("application/json", model=drawing_models.TuneRequest), response=drawing_models.TuneResponse,
        cost="training", training_slot=True, dependencies=TEACHER, body_bytes=TUNING_BODY_BYTES,
        documented_errors=ERRORS | drawing_answers.TEACHER_ERRORS | drawing_answers.TRAINING_ERRORS,
    ),
    Endpoint(
        name="drawings_weights", operation="weights", method="POST", path="/drawings/weights",
        handler=job_handler(drawings.weights_file),
        summary="The tuned copy as a weights file: a zip of class-copy.npz and its metadata, for CNN_WEIGHTS",
        request=the_job("application/json", model=drawing_models.WeightsRequest), response=None,
        media_type="application/octet-stream", cost="light", runs="loop", dependencies=TEACHER,
        body_bytes=TUNING_BODY_BYTES,
        documented_errors=ERRORS | drawing_answers.TEACHER_ERRORS | drawing_answers.WEIGHTS_DOC,
    ),
)  # fmt: skip


CLASS_TEACHER = (Depends(class_answers.teacher_only),)  # 404 while the collection is off, 401 without the token
CODE = {"code": Annotated[str, InPath(min_length=1, max_length=12, description="the class's code")]}
CLASS_BODY = 4 * 1024  # a name, a state: a few bytes
NETWORK_BODY = 64 * 1024  # ~21 kB of params
TEXT = {"schema": {"type": "string", "format": "binary"}}
# Lessons with a class (app/classes/): their router runs their `serve` steps; database work in threads.
CLASSES: tuple[Endpoint, ...] = (
    Endpoint(
        name="read_new_class", operation="create_class", method="POST", path="/classes",
        handler=job_handler(class_answers.body(class_models.NewClass)), serve=class_answers.create_class,
        summary="Open a class: a short code and the address phones join at",
        request=the_job("application/json", model=class_models.NewClass), response=class_models.ClassInfo,
        status=201, cost="database", runs="loop", body_bytes=CLASS_BODY, dependencies=CLASS_TEACHER,
        documented_errors=ERRORS | class_answers.ERRORS | {409: {"description": "too many classes"}},
    ),
    Endpoint(
        name="list_classes", method="GET", path="/classes", serve=class_answers.list_classes,
        summary="Every class, with its drawings counted", response=class_models.ClassList,
        cost="database", runs="loop", dependencies=CLASS_TEACHER, documented_errors=class_answers.ERRORS,
    ),
    Endpoint(
        name="read_class_change", operation="change_class", method="PATCH", path="/classes/{code}",
        handler=job_handler(class_answers.body(class_models.ClassChange)), serve=class_answers.change_class,
        summary="Pause, close or open saving, or rename the class", path_types=CODE,
        request=the_job("application/json", model=class_models.ClassChange), response=class_models.ClassInfo,
        cost="database", runs="loop", body_bytes=CLASS_BODY, dependencies=CLASS_TEACHER,
        documented_errors=ERRORS | class_answers.ERRORS,
    ),
    Endpoint(
        name="delete_class", method="DELETE", path="/classes/{code}", serve=class_answers.delete_class,
        summary="Remove the class and every drawing saved into it", path_types=CODE, response=None, status=204,
        cost="database", runs="loop", dependencies=CLASS_TEACHER, documented_errors=class_answers.ERRORS,
    ),
    Endpoint(
        name="public_class", method="GET", path="/classes/{code}", serve=class_answers.public_class,
        summary="A class as phones see it: its name, whether saving is open, its network if published",
        path_types=CODE, response=class_models.PublicClass, cost="database", runs="loop",
        documented_errors=class_answers.ERRORS,
    ),
    Endpoint(
        name="class_qr", method="GET", path="/classes/{code}/qr.svg", serve=class_answers.class_qr,
        summary="The address phones join at, as a QR code", path_types=CODE, response=None,
        media_type="image/svg+xml", cost="database", runs="loop",
        documented_errors=class_answers.ERRORS | {200: {"content": {"image/svg+xml": TEXT}}},
    ),
    Endpoint(
        name="class_events", method="GET", path="/classes/{code}/events", serve=class_answers.class_events,
        summary="The live board: Server-Sent Events (drawings only for the teacher's token)", path_types=CODE,
        response=None, media_type="text/event-stream", cost="stream", runs="loop",
        documented_errors=class_answers.ERRORS | {200: {"content": {"text/event-stream": TEXT}}},
    ),
    Endpoint(
        name="read_class_network", operation="publish_network", method="PUT", path="/classes/{code}/network",
        handler=job_handler(class_answers.checked_network), serve=class_answers.publish_network,
        summary="Give the class its own network (the tuned copy): every phone switches to it", path_types=CODE,
        request=the_job("application/json", model=class_models.PublishRequest), response=class_models.NetworkInfo,
        cost="database", runs="loop", body_bytes=NETWORK_BODY, dependencies=CLASS_TEACHER,
        documented_errors=ERRORS | class_answers.ERRORS,
    ),
    Endpoint(
        name="class_network", method="GET", path="/classes/{code}/network", serve=class_answers.class_network,
        summary="The class's own network, as /predict's params take it", path_types=CODE,
        response=class_models.ClassNetwork, cost="database", runs="loop", documented_errors=class_answers.ERRORS,
    ),
    Endpoint(
        name="take_back_network", method="DELETE", path="/classes/{code}/network",
        serve=class_answers.take_back_network, summary="Take the class's network back: phones use the shared one",
        path_types=CODE, response=None, status=204, cost="database", runs="loop", dependencies=CLASS_TEACHER,
        documented_errors=class_answers.ERRORS,
    ),
)  # fmt: skip


def protocol_shape(sentence: str) -> dict[str, Any]:
    return {"error": sentence}


def oip(name: str, method: Literal["GET", "POST"], path: str, summary: str, **declared: Any) -> Endpoint:
    """One of the Open Inference Protocol's endpoints (app/interop/): answered on the event loop unless
    declared otherwise, its failures in the protocol's words."""
    defaults: dict[str, Any] = {"runs": "loop", "cost": "memory", "error_shape": protocol_shape}
    return Endpoint(name=name, method=method, path=path, summary=summary, failure=interop_jobs.protocol_failure,
                    **(defaults | declared))  # fmt: skip


def oip_infer(name: str, path: str, summary: str) -> Endpoint:
    return oip(
        name, "POST", path, summary, handler=job_handler(interop_jobs.infer),
        request=the_job(None, header="inference-header-content-length"), response=interop_schemas.InferResponse,
        runs="pool", cost="light", inline_bytes=INLINE_BYTES, identity_only=True, check=interop_jobs.served,
        documented_errors=oip_documents.ERRORS,
        openapi={"description": oip_documents.INFER_DOC}
        | oip_documents.body_schema(interop_schemas.InferRequest, binary=True),
    )  # fmt: skip


MODEL_PATH = "/v2/models/{model_name}"
VERSION_PATH = MODEL_PATH + "/versions/{model_version}"
# The protocol's endpoints and ONNX's: routed by app/interop/routes.py's router, which only looks at
# their paths; the inference routes first, as the router tries its routes in order and these carry the load.
OIP: tuple[Endpoint, ...] = (
    oip_infer("v2_infer", MODEL_PATH + "/infer", "Classify digits, the protocol's way"),
    oip_infer("v2_infer_version", VERSION_PATH + "/infer", "Classify digits, the protocol's way, at a version"),
    oip("v2_server_metadata", "GET", "/v2", "The server, and the protocol's extensions it speaks",
        handler=job_handler(interop_jobs.server_metadata), response=interop_schemas.ServerMetadata),
    oip("v2_live", "GET", "/v2/health/live", "Is the server running",
        handler=job_handler(interop_jobs.live), response=interop_schemas.Live),
    oip("v2_ready", "GET", "/v2/health/ready", "Is the server ready for inference",
        handler=job_handler(interop_jobs.ready), response=interop_schemas.Ready),
    oip("v2_model_metadata", "GET", MODEL_PATH, "The model's tensors", handler=job_handler(interop_jobs.model_metadata),
        response=interop_schemas.ModelMetadata, check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    oip("v2_model_version_metadata", "GET", VERSION_PATH, "The model's tensors, at a version",
        handler=job_handler(interop_jobs.model_metadata), response=interop_schemas.ModelMetadata,
        check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    oip("v2_model_ready", "GET", MODEL_PATH + "/ready", "Is the model ready",
        handler=job_handler(interop_jobs.model_ready), response=interop_schemas.ModelReady,
        check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    oip("v2_model_version_ready", "GET", VERSION_PATH + "/ready", "Is the model ready, at a version",
        handler=job_handler(interop_jobs.model_ready), response=interop_schemas.ModelReady,
        check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    Endpoint(
        name="onnx_download", method="GET", path="/model.onnx", handler=job_handler(interop_jobs.onnx_download),
        summary="The served network as an ONNX model (opset 17): open it in Netron, run it with onnxruntime",
        response=None, media_type="application/octet-stream", cost="memory", runs="loop",
        documented_errors={200: oip_documents.BINARY},
    ),
    Endpoint(
        name="onnx_of_params", method="POST", path="/model.onnx", handler=job_handler(interop_jobs.onnx_of_params),
        summary="A visitor's own network (its params, as /teach answers them) as an ONNX model",
        request=the_job("application/json"), response=None, media_type="application/octet-stream", cost="heavy",
        body_bytes=ONNX_BODY_BYTES, identity_only=True,
        documented_errors={200: oip_documents.BINARY, 413: oip_documents.ERRORS[413] | {"model": None},
                           422: {"description": "the params are not a network"}},
        openapi=oip_documents.body_schema(interop_schemas.OnnxRequest),
    ),
)  # fmt: skip

BY_NAME: dict[str, Endpoint] = {e.name: e for e in (*ENDPOINTS, *OIP, *DRAWINGS, *CLASSES)}


def error_shape_of(route_name: str | None) -> ErrorShape:
    """The error shape of the endpoint a route serves; the service's own for anything else."""
    endpoint = BY_NAME.get(route_name or "")
    return endpoint.error_shape if endpoint is not None else as_detail
