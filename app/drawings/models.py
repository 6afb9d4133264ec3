"""The drawings' request and response models: where their JSON meets arrays.

Imported by work.py and routes.py; imports app/schemas.py (a save takes any drawing /predict takes).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, Strict, model_validator

from ..schemas import EXAMPLE_GRID, DrawingRequest, body_config

MAX_PAGE = 200  # drawings per GET /drawings page


class SaveRequest(DrawingRequest):
    """A drawing in any form POST /predict takes, and the digit its author meant."""

    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 1}])

    label: Annotated[int, Strict(), Field(ge=0, le=9)] = Field(description="the digit the drawing is meant to be")

    @model_validator(mode="after")
    def _served_network_only(self) -> SaveRequest:
        if self.params is not None:
            raise ValueError("params: a saved drawing is read by the served network; leave params out")
        return self


class SaveResponse(BaseModel):
    id: int = Field(description="the drawing's id in the collection")
    label: int = Field(description="the digit meant, as sent")
    answer: int = Field(description="the served network's digit")
    probability: float = Field(description="its probability for that digit")
    repeated: bool = Field(description="true when this Idempotency-Key had already saved this drawing")


class DrawingItem(BaseModel):
    id: int
    created_at: str = Field(description="when it was saved, ISO 8601 UTC")
    label: int = Field(description="the digit meant")
    answer: int = Field(description="the network's digit when it was saved")
    probability: float
    weights_sha256: str = Field(description="the weights that answered")
    pixels: str = Field(description="base64 of 784 bytes: the 28x28 grid read, row by row, 0-255 as in MNIST")


class DrawingPage(BaseModel):
    items: list[DrawingItem] = Field(description="newest first")
    next: str | None = Field(description="send back as `cursor` for the next page; null after the last")


class Summary(BaseModel):
    total: int
    counts: list[int] = Field(description="drawings per digit meant, 0-9")
    accuracy: float | None = Field(description="the share the network read as meant; null when empty")
    confusion: list[list[int]] = Field(description="rows: the digit meant; columns: the network's answer")
    served_sha256: str = Field(description="the weights serving now")
    answered_by_served: int = Field(description="drawings the weights serving now answered when saved")
