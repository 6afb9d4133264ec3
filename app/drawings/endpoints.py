"""The class's drawings' endpoints, declared beside their answers (answers.py, bulk.py, work.py, tuning.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi import Path as InPath

from app.transport.endpoints import INLINE_BYTES, Endpoint, job_handler, the_job
from app.transport.error_docs import ERRORS

from . import answers as drawing_answers
from . import bulk as drawings_bulk
from . import models as drawing_models
from . import tuning as drawings_tuning
from . import work as drawings

TUNING_BODY_BYTES = 64 * 1024  # /drawings/tune carries a run's state (42 KB at most), weights ~21 KB of params
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
        cost="training", training_slot="teacher", dependencies=TEACHER, body_bytes=TUNING_BODY_BYTES,
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
