"""Lessons with a class: their endpoints, declared beside their answers (answers.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi import Path as InPath

from app.transport.endpoints import Endpoint, job_handler, the_job
from app.transport.error_docs import ERRORS

from . import answers as class_answers
from . import models as class_models

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
