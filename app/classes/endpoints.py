"""Lessons with a class: their endpoints, declared beside their answers (answers.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi import Path as InPath

from app.transport.endpoints import Doc, Endpoint, Params, Reply, Runs, json_body
from app.transport.error_docs import ERRORS

from . import answers as class_answers
from . import models as class_models

CLASS_TEACHER = (Depends(class_answers.teacher_only),)  # 404 while the collection is off, 401 without the token
CODE = {"code": Annotated[str, InPath(min_length=1, max_length=12, description="the class's code")]}
CLASS_BODY = 4 * 1024  # a name, a state: a few bytes
NETWORK_BODY = 64 * 1024  # ~21 kB of params
TEXT = {"schema": {"type": "string", "format": "binary"}}
# Lessons with a class (app/classes/): their handlers are steps of their own, their database work in threads.
CLASSES: tuple[Endpoint, ...] = (
    Endpoint(
        name="create_class",
        method="POST",
        path="/classes",
        handler=class_answers.create_class,
        request=json_body(class_models.NewClass, max_bytes=CLASS_BODY),
        reply=Reply(class_models.ClassInfo, status=201),
        params=Params(dependencies=CLASS_TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc(
            "Open a class: a short code and the address phones join at",
            errors=ERRORS | class_answers.ERRORS | {409: {"description": "too many classes"}},
        ),
    ),
    Endpoint(
        name="list_classes",
        method="GET",
        path="/classes",
        handler=class_answers.list_classes,
        reply=Reply(class_models.ClassList),
        params=Params(dependencies=CLASS_TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("Every class, with its drawings counted", errors=class_answers.ERRORS),
    ),
    Endpoint(
        name="change_class",
        method="PATCH",
        path="/classes/{code}",
        handler=class_answers.change_class,
        request=json_body(class_models.ClassChange, max_bytes=CLASS_BODY),
        reply=Reply(class_models.ClassInfo),
        params=Params(path=CODE, dependencies=CLASS_TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("Pause, close or open saving, or rename the class", errors=ERRORS | class_answers.ERRORS),
    ),
    Endpoint(
        name="delete_class",
        method="DELETE",
        path="/classes/{code}",
        handler=class_answers.delete_class,
        reply=Reply(None, status=204),
        params=Params(path=CODE, dependencies=CLASS_TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("Remove the class and every drawing saved into it", errors=class_answers.ERRORS),
    ),
    Endpoint(
        name="public_class",
        method="GET",
        path="/classes/{code}",
        handler=class_answers.public_class,
        reply=Reply(class_models.PublicClass),
        params=Params(path=CODE),
        runs=Runs("database", where="loop"),
        doc=Doc(
            "A class as phones see it: its name, whether saving is open, its network if published",
            errors=class_answers.ERRORS,
        ),
    ),
    Endpoint(
        name="class_qr",
        method="GET",
        path="/classes/{code}/qr.svg",
        handler=class_answers.class_qr,
        reply=Reply(None, media_type="image/svg+xml"),
        params=Params(path=CODE),
        runs=Runs("database", where="loop"),
        doc=Doc(
            "The address phones join at, as a QR code",
            errors=class_answers.ERRORS | {200: {"content": {"image/svg+xml": TEXT}}},
        ),
    ),
    Endpoint(
        name="class_events",
        method="GET",
        path="/classes/{code}/events",
        handler=class_answers.class_events,
        reply=Reply(None, media_type="text/event-stream"),
        params=Params(path=CODE),
        runs=Runs("stream", where="loop"),
        doc=Doc(
            "The live board: Server-Sent Events (drawings only for the teacher's token)",
            errors=class_answers.ERRORS | {200: {"content": {"text/event-stream": TEXT}}},
        ),
    ),
    Endpoint(
        name="publish_network",
        method="PUT",
        path="/classes/{code}/network",
        handler=class_answers.publish_network,
        request=json_body(class_models.PublishRequest, class_answers.checked_network, max_bytes=NETWORK_BODY),
        reply=Reply(class_models.NetworkInfo),
        params=Params(path=CODE, dependencies=CLASS_TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc(
            "Give the class its own network (the tuned copy): every phone switches to it",
            errors=ERRORS | class_answers.ERRORS,
        ),
    ),
    Endpoint(
        name="class_network",
        method="GET",
        path="/classes/{code}/network",
        handler=class_answers.class_network,
        reply=Reply(class_models.ClassNetwork),
        params=Params(path=CODE),
        runs=Runs("database", where="loop"),
        doc=Doc("The class's own network, as /predict's params take it", errors=class_answers.ERRORS),
    ),
    Endpoint(
        name="take_back_network",
        method="DELETE",
        path="/classes/{code}/network",
        handler=class_answers.take_back_network,
        reply=Reply(None, status=204),
        params=Params(path=CODE, dependencies=CLASS_TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("Take the class's network back: phones use the shared one", errors=class_answers.ERRORS),
    ),
)
