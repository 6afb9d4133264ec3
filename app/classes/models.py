"""The classes' request and response models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict, StringConstraints, model_validator

from app.api.requests import ParamsText, RequestBody, body_config
from app.drawings.models import CopyCalibration as Calibration

from .store import MAX_NAME, ClassRow

Name = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
State = Literal["open", "paused", "closed"]


class NewClass(RequestBody):
    model_config = body_config(examples=[{"name": "7B, Tuesday"}])

    name: Name = Field(description="what the phones show, e.g. the class and the day")


class ClassChange(RequestBody):
    model_config = body_config(examples=[{"state": "paused"}])

    state: State | None = Field(None, description="open: phones save; paused or closed: saves get 409")
    name: Name | None = Field(None, description="a new name")

    @model_validator(mode="after")
    def _something(self) -> ClassChange:
        if self.state is None and self.name is None:
            raise ValueError("send a state (open, paused or closed) or a name")
        return self


class NetworkInfo(BaseModel):
    sha256: str = Field(description="SHA-256 of the params' text")
    drawings: int = Field(description="the class's drawings it was tuned on")
    published_at: str = Field(description="ISO 8601 UTC")


class ClassInfo(BaseModel):
    code: str = Field(description="what phones type to join (4-6 characters, no look-alikes)")
    name: str
    state: State
    join_url: str = Field(description="the page phones open: /c/{code} at the address they reach")
    join_urls: list[str] = Field(description="every address found for it, join_url first")
    created_at: str
    drawings: int = Field(description="drawings saved into the class")
    network: NetworkInfo | None = Field(description="the class's network, if published")


class ClassList(BaseModel):
    classes: list[ClassInfo] = Field(description="newest first")


class PublicClass(BaseModel):
    code: str
    name: str
    state: State
    network: NetworkInfo | None = Field(description="the class's own network, if the teacher published one")


class PublishRequest(RequestBody):
    model_config = body_config(examples=[{"params": "<the params of the last /drawings/tune answer>", "drawings": 74}])

    params: ParamsText = Field(description="the tuned copy, as /drawings/tune answered it")
    calibration: Calibration | None = Field(None, description="its calibration, as /drawings/tune answered it")
    drawings: Annotated[int, Strict(), Field(ge=0, le=10**9)] = Field(
        description="the class's drawings it learned from"
    )


class ClassNetwork(NetworkInfo):
    params: str = Field(description="the class's network, as /predict's `params` takes it")
    calibration: Calibration | None = Field(
        description="read /predict's probabilities p with it: softmax(ln p / temperature), unsure below unsure_below"
    )


def network_info(row: ClassRow) -> NetworkInfo | None:
    info = row.network()
    return None if info is None else NetworkInfo.model_validate(info)
