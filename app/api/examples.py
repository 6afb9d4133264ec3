"""The examples of the OpenAPI document's answers that depend on the weights, taken from the served network."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.config import Settings

from .requests import EXAMPLE_GRID
from .responses import Health, ModelInfo, PredictResponse
from .service import Classifier


def examples(clf: Classifier, settings: Settings) -> dict[str, Any]:
    """The examples of the answers that depend on the weights, taken from the served network itself:
    its metadata, its SHA-256, its answer to the example request."""
    p = clf.predict(np.asarray(EXAMPLE_GRID, dtype=np.float64))
    return {
        "PredictResponse": PredictResponse.content(p, with_input=False),
        "BatchResponse": {"predictions": [PredictResponse.content(p, with_input=False)]},
        "ModelInfo": ModelInfo.content(
            clf.metadata,
            clf.weights_path.name,
            settings.max_batch,
            settings.max_body_bytes,
            collecting=settings.collecting,
        ),
        "Health": Health.content(clf.metadata["sha256"]),
    }
