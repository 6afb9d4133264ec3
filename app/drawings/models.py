"""The drawings' request and response models: where their JSON meets arrays (a save takes any drawing
/predict takes: app/api/requests.py's)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, Strict

from app.api.requests import EXAMPLE_GRID, DrawingRequest, ParamsText, RequestBody, body_config
from app.api.training import MAX_TRAIN_IMAGES, RESUME_MAX_LENGTH
from model.training.recipes import CLASS

MAX_PAGE = 200  # drawings per GET /drawings page
ClassCode = Annotated[str, Strict(), Field(min_length=1, max_length=12, description="a class's code (app/classes/)")]


class SaveRequest(DrawingRequest):
    """A drawing in any form POST /predict takes, and the digit its author meant (its `params` are
    refused where the served network reads it: answers.py's read_drawing)."""

    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 1}])

    label: Annotated[int, Strict(), Field(ge=0, le=9)] = Field(description="the digit the drawing is meant to be")
    class_: ClassCode | None = Field(None, alias="class", description="save into this class (open, else 409)")


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
    newest_id: int = Field(
        description="the newest drawing these counts include (0: none): a live board adds only the drawings after it"
    )


class TuneRequest(RequestBody):
    model_config = body_config(examples=[{"seed": 0, "steps": 8}])

    seed: Annotated[int, Strict(), Field(ge=0, lt=2**32)] = Field(0, description="a new run's seed (without resume)")
    resume: str | None = Field(
        None, max_length=RESUME_MAX_LENGTH, description="continue a run: the `resume` of the last answer, as it came"
    )
    steps: Annotated[int, Strict(), Field(ge=1, le=MAX_TRAIN_IMAGES // CLASS.batch_size)] = Field(
        description=f"steps of {CLASS.batch_size} images to take now"
    )
    class_: ClassCode | None = Field(None, alias="class", description="tune on this class's drawings only")


class Scores(BaseModel):
    class_: float | None = Field(alias="class", description="accuracy on the held-out drawings; null if none")
    mnist: float = Field(description="accuracy on MNIST's 1,000 held-out test images")


class Changed(BaseModel):
    id: int
    label: int = Field(description="the digit meant")
    before: int = Field(description="the served network's answer")
    after: int = Field(description="the tuned copy's answer")
    pixels: str = Field(description="base64 of the 28x28 grid's 784 bytes, 0-255 as in MNIST")


class CopyCalibration(BaseModel):
    """Fitted as the served network's were (model/training/calibration.py), on images it never trained on."""

    temperature: Annotated[float, Strict(), Field(ge=0.05, le=20)] = Field(
        description="T: the copy's probabilities are softmax(S / T)"
    )
    unsure_below: Annotated[float, Strict(), Field(ge=0, le=1)] = Field(
        description="below this top probability the copy says it is unsure"
    )


class TuneResponse(BaseModel):
    step: int = Field(description="steps taken by the run so far")
    losses: list[float] = Field(description="the loss of each step taken now")
    drawings: int = Field(description="the class's drawings it learns from")
    held_out: int = Field(description="the class's drawings kept for scoring (every fifth id)")
    before: Scores = Field(description="the served network's accuracy")
    after: Scores = Field(description="the tuned copy's accuracy")
    changed: list[Changed] = Field(description="held-out drawings the copy reads differently from the served network")
    calibration: CopyCalibration = Field(description="the copy's temperature and unsure threshold")
    resume: str = Field(description="send back to continue")
    params: str = Field(description="the tuned copy's parameters, as /predict's `params` takes them")


class WeightsRequest(RequestBody):
    model_config = body_config(examples=[{"params": "<the params of the last /drawings/tune answer>", "steps": 96}])

    params: ParamsText = Field(description="the tuned copy's parameters, as /drawings/tune answered them")
    steps: Annotated[int, Strict(), Field(ge=0, le=10**9)] = Field(0, description="steps it was tuned for")
    drawings: Annotated[int, Strict(), Field(ge=0, le=10**9)] = Field(0, description="class drawings it learned from")
