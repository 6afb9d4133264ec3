"""The class's drawings' endpoints, declared beside their handlers (answers.py, bulk.py, tuning.py, weights_file.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi import Path as InPath

from app.transport.endpoints import INLINE_BYTES, Doc, Endpoint, Params, Reply, Runs, json_body
from app.transport.error_docs import ERRORS

from . import answers as drawing_answers
from . import bulk as drawings_bulk
from . import models as drawing_models
from . import tuning as drawings_tuning
from .weights_file import weights_download

TUNING_BODY_BYTES = 64 * 1024  # /drawings/tune carries a run's state (42 KB at most), weights ~21 KB of params
TEACHER = (Depends(drawing_answers.teacher),)  # 404 while the collection is off, 401 without the token
# The class's drawings (app/drawings/): most handlers are steps of their own, their database work in threads.
DRAWINGS: tuple[Endpoint, ...] = (
    Endpoint(
        name="save_drawing",
        method="POST",
        path="/drawings",
        handler=drawing_answers.save_drawing,
        request=json_body(drawing_models.SaveRequest, drawing_answers.read_drawing),
        reply=Reply(drawing_models.SaveResponse, status=201),
        params=Params(headers=drawing_answers.SaveHeaders),
        runs=Runs("light", inline_bytes=INLINE_BYTES),
        doc=Doc(
            "Save a drawing for the class, with the digit it is meant to be",
            errors=ERRORS | drawing_answers.SAVE_ERRORS,
        ),
    ),
    Endpoint(
        name="list_drawings",
        method="GET",
        path="/drawings",
        handler=drawing_answers.list_drawings,
        reply=Reply(drawing_models.DrawingPage),
        params=Params(query=drawing_answers.PageQuery, dependencies=TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("The class's drawings", errors=drawing_answers.TEACHER_ERRORS),
    ),
    Endpoint(
        name="summary",
        method="GET",
        path="/drawings/summary",
        handler=drawing_answers.summary,
        reply=Reply(drawing_models.Summary),
        params=Params(query=drawing_answers.ClassQuery, dependencies=TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("How the network reads the class", errors=drawing_answers.TEACHER_ERRORS),
    ),
    Endpoint(
        name="export",
        method="GET",
        path="/drawings/export",
        handler=drawing_answers.export,
        reply=Reply(None),
        params=Params(query=drawing_answers.ExportQuery, dependencies=TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc(
            "The collection as MNIST: npz (images, labels) or the IDX files, zipped",
            errors=drawing_answers.TEACHER_ERRORS | drawing_answers.EXPORT_DOC,
        ),
    ),
    Endpoint(
        name="delete_drawing",
        method="DELETE",
        path="/drawings/{drawing_id}",
        handler=drawing_answers.delete_drawing,
        reply=Reply(None, status=204),
        params=Params(path={"drawing_id": Annotated[int, InPath(ge=1, le=2**62)]}, dependencies=TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc("Remove one drawing", errors=drawing_answers.TEACHER_ERRORS | drawing_answers.DELETE_ERRORS),
    ),
    Endpoint(
        name="delete_drawings",
        method="DELETE",
        path="/drawings",
        handler=drawings_bulk.delete_drawings,
        reply=Reply(drawings_bulk.BulkDeleted),
        params=Params(query=drawings_bulk.BulkQuery, dependencies=TEACHER),
        runs=Runs("database", where="loop"),
        doc=Doc(
            "Remove many drawings: a selection of ids, or all from the last minutes (dry_run says how many)",
            errors=drawing_answers.TEACHER_ERRORS,
        ),
    ),
    Endpoint(
        name="tune",
        method="POST",
        path="/drawings/tune",
        handler=drawing_answers.tune,
        request=json_body(drawing_models.TuneRequest, drawings_tuning.tune_job, max_bytes=TUNING_BODY_BYTES),
        reply=Reply(drawing_models.TuneResponse),
        params=Params(dependencies=TEACHER),
        runs=Runs("training", training_slot="teacher"),
        doc=Doc(
            "Fine-tune a copy of the served network on the class's drawings, a few steps at a time",
            errors=ERRORS | drawing_answers.TEACHER_ERRORS | drawing_answers.TRAINING_ERRORS,
        ),
    ),
    Endpoint(
        name="weights",
        method="POST",
        path="/drawings/weights",
        handler=weights_download,
        request=json_body(drawing_models.WeightsRequest, max_bytes=TUNING_BODY_BYTES),
        reply=Reply(None, media_type="application/octet-stream"),
        params=Params(dependencies=TEACHER),
        runs=Runs("light", where="loop"),
        doc=Doc(
            "The tuned copy as a weights file: a zip of class-copy.npz and its metadata, for CNN_WEIGHTS",
            errors=ERRORS | drawing_answers.TEACHER_ERRORS | drawing_answers.WEIGHTS_DOC,
        ),
    ),
)
