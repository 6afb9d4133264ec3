"""What a save computes, as a handler (endpoints.py): plain functions of a Job, so that a
28x28 grid is read on the event loop like a small /predict and a drawing to normalise in a
worker process, by the same code and with the same bounds.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from app.api.service import Classifier
from app.config import Settings
from app.pictures.preprocessing import normalize
from app.transport.facts import Facts
from app.transport.jobs import Answer, Job, NeedsWorker

from .models import SaveRequest, WeightsRequest
from .weights_file import NAME, weights_zip


def read_drawing(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    """The grid the served network reads and its answer; the route stores them."""
    req = SaveRequest.model_validate_json(job.body, context={"max_drawing_side": settings.max_drawing_side})
    if on_loop and req.normalize:  # normalising may take milliseconds: a worker's job, as for /predict
        raise NeedsWorker
    image = normalize(req.grid()) if req.normalize else req.grid()
    read = np.asarray(image, dtype=clf.net.dtype)  # (28, 28): exactly what the network sees
    p = clf.predict(read)
    return {
        "grid": base64.b64encode(read.astype("<f4").tobytes()).decode(),
        "label": req.label,
        "answer": p.label,
        "probability": float(p.probabilities[p.label]),
        "class": req.class_,
    }


def weights_file(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Answer:
    """The tuned copy as a weights file: a zip of class-copy.npz and its metadata, for CNN_WEIGHTS.
    (~21 kB of params at most: on the event loop.)"""
    req = WeightsRequest.model_validate_json(job.body)
    data = weights_zip(req.params, clf.metadata, req.steps, req.drawings)
    disposition = f'attachment; filename="{NAME}.zip"'
    return Answer(200, data, {"Content-Disposition": disposition}, media_type="application/octet-stream")
