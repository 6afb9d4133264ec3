"""What a save computes, as a handler of app/handlers.py: plain functions of a Job, so that a
28x28 grid is read on the event loop like a small /predict and a drawing to normalise in a
worker process, by the same code and with the same bounds.

Imported by app/handlers.py (its ENDPOINTS); imports models.py and tuning.py.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Settings
from ..facts import Facts
from ..preprocessing import normalize
from ..service import Classifier
from .models import SaveRequest

if TYPE_CHECKING:  # app/handlers.py imports this module for its ENDPOINTS
    from ..handlers import Job


def read_drawing(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    """The grid the served network reads and its answer; the route stores them."""
    req = SaveRequest.model_validate_json(job.body, context={"max_drawing_side": settings.max_drawing_side})
    if on_loop and req.normalize:  # normalising may take milliseconds: a worker's job, as for /predict
        from ..handlers import NeedsWorker  # here, not above: app/handlers.py imports this module

        raise NeedsWorker
    image = normalize(req.grid()) if req.normalize else req.grid()
    read = np.asarray(image, dtype=clf.net.dtype)  # (28, 28): exactly what the network sees
    p = clf.predict(read)
    return {
        "grid": base64.b64encode(read.astype("<f4").tobytes()).decode(),
        "label": req.label,
        "answer": p.label,
        "probability": float(p.probabilities[p.label]),
    }
