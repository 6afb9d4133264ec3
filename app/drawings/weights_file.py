"""The class's tuned copy as a weights file the service can serve: a zip of NAME.npz and its JSON
sidecar (model/weights.py's pair, the SHA-256 in the sidecar), so `CNN_WEIGHTS=NAME.npz` loads it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from app.transport.endpoints import Call
from app.transport.jobs import Answer
from model.codec import decode_params
from model.weights import npz_bytes

from .models import WeightsRequest

NAME = "class-copy"


def weights_zip(params_text: str, served: dict[str, Any], steps: int, drawings: int) -> bytes:
    """NAME.npz and NAME.json, zipped; the metadata says where the copy came from."""
    data = npz_bytes(decode_params(params_text))
    metadata = {
        "architecture": served["architecture"],
        "fine_tuned": {
            "from_sha256": served["sha256"],
            "recipe": "class",
            "steps": steps,
            "class_drawings": drawings,
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{NAME}.npz", data)
        z.writestr(f"{NAME}.json", json.dumps(metadata, indent=2) + "\n")
    return buf.getvalue()


def weights_download(req: WeightsRequest, call: Call) -> Answer:
    """The tuned copy as a weights file: a zip of class-copy.npz and its metadata, for CNN_WEIGHTS.
    (~21 kB of params at most: on the event loop.)"""
    data = weights_zip(req.params, call.classifier.metadata, req.steps, req.drawings)
    disposition = f'attachment; filename="{NAME}.zip"'
    return Answer(200, data, {"Content-Disposition": disposition}, media_type="application/octet-stream")
