"""Response models: what each JSON endpoint answers, documented for OpenAPI, and built one way.

Every answer is made by its model's `content(...)`, from the computation's own record (a Prediction,
a Lesson, a Check...), as plain JSON-ready data: no second validation on the hot path, and one
place per answer that knows its field names. tests/test_answers.py checks that every answer
validates against its model. The lab's answers are in app/api/lab_responses.py.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.pictures.preprocessing import Reading
from model.architecture import FEATURE_MAPS, GRADIENTS, LAYERS, NUM_PARAMS, PARAM_SHAPES
from model.codec import ENCODED_LENGTH
from model.lab.equations import KINDS as EQUATION_KINDS
from model.network import Params
from model.training.recipes import ARTICLE_SMALL_RUN, ARTICLE_SMALL_RUN_LOSS, CLASS, NAMES, RECIPES

from .conversions import EncodedArray, MapsEncoding, encode
from .service import Confidence, Prediction
from .training import MAX_TRAIN_IMAGES


def about(name: str) -> str:
    layer = next(layer for layer in LAYERS if layer.name == name)
    return f"{tuple(layer.shape)} after {layer.what}" + (f", eq. ({layer.equation})" if layer.equation else "")


class FeatureMaps(BaseModel):  # one field per FEATURE_MAPS, each described by model/architecture.py
    C1: list[list[list[float]]] | EncodedArray = Field(description=about("C1"))
    P1: list[list[list[float]]] | EncodedArray = Field(description=about("P1"))
    C2: list[list[list[float]]] | EncodedArray = Field(description=about("C2"))
    P2: list[list[list[float]]] | EncodedArray = Field(description=about("P2"))
    S: list[float] | EncodedArray = Field(description=about("S"))


assert tuple(FeatureMaps.model_fields) == FEATURE_MAPS


MAX_DROPPED_LISTED = 16  # a dusty photo has hundreds of specks: the answer names the heaviest


class DroppedMark(BaseModel):
    kind: Literal["line", "mark"] = Field(
        description='"line": a ruled line or a page edge; "mark": a speck, a stray stroke, a shadow\'s corner'
    )
    box: tuple[int, int, int, int] = Field(
        description="(left, top, right, bottom) in the picture's pixels, upright; right and bottom excluded"
    )
    share: float = Field(description="its share of all the ink found on the picture")


class ImageReading(BaseModel):
    """How the digit was found on an uploaded picture (POST /predict/image)."""

    photo: bool = Field(description="the border was not one flat colour: read as a photo of paper")
    light_on_dark: bool = Field(description="light ink on a dark ground (the picture was read inverted)")
    uneven_light: float = Field(
        description="how much the paper's lightness varies across the picture (0: even light, 1: black to white)"
    )
    dropped: list[DroppedMark] = Field(
        description=f"marks that are not the digit, heaviest first (at most {MAX_DROPPED_LISTED})"
    )
    dropped_count: int = Field(description="how many marks were dropped in all")

    @staticmethod
    def content(r: Reading) -> dict[str, Any]:
        return {
            "photo": r.paper.photo,
            "light_on_dark": r.paper.light_on_dark,
            "uneven_light": round(r.paper.uneven, 3),
            "dropped": [
                {"kind": m.kind, "box": list(m.box), "share": round(m.share, 4)} for m in r.dropped[:MAX_DROPPED_LISTED]
            ],
            "dropped_count": len(r.dropped),
        }


class PredictResponse(BaseModel):
    # Its example is the served network's own answer to EXAMPLE_GRID, put into the OpenAPI document by app/main.py.

    label: int = Field(description="the most probable digit")
    probabilities: list[float] = Field(
        description="softmax(S / T), calibrated on validation data: 10 numbers summing to 1 (T in GET /model)"
    )
    unsure: bool = Field(
        False,
        description="true when the top probability is below the threshold chosen on "
        "validation data (GET /model): a guess, not an answer",
    )
    feature_maps: FeatureMaps | None = Field(None, description="with feature_maps=true")
    input: list[list[float]] | EncodedArray | None = Field(
        None, description="the 28x28 grid the network saw; with feature_maps=true or after normalisation"
    )
    reading: ImageReading | None = Field(None, description="POST /predict/image: how the digit was found")

    @staticmethod
    def content(p: Prediction, *, with_input: bool, encoding: MapsEncoding = "json") -> dict[str, Any]:
        """The response as plain JSON-ready data, built without a second validation (the hot path)."""
        out: dict[str, Any] = {
            "label": p.label,
            "probabilities": p.probabilities.astype(np.float64).tolist(),
            "unsure": p.unsure,
        }
        if p.maps is not None:
            out["feature_maps"] = {k: encode(v, encoding) for k, v in p.maps.items()}
        if with_input:
            out["input"] = encode(p.input, encoding)
        if p.reading is not None:
            out["reading"] = ImageReading.content(p.reading)
        return out


class BatchItem(BaseModel):
    label: int
    probabilities: list[float]
    unsure: bool = False


class BatchResponse(BaseModel):
    # Its example is the served network's own answer, put into the OpenAPI document by app/main.py.

    predictions: list[BatchItem]

    @staticmethod
    def content(O: np.ndarray, confidence: Confidence) -> dict[str, Any]:
        """(N, 10) probabilities -> one item per image, in order."""
        unsure = confidence.unsure(O)
        return {
            "predictions": [
                {"label": int(o.argmax()), "probabilities": o.tolist(), "unsure": bool(u)}
                for o, u in zip(O, unsure, strict=True)
            ]
        }


class LayerInfo(BaseModel):
    name: str = Field(description="the article's symbol for the layer's output")
    what: str
    shape: list[int] = Field(description="of one image's output")
    equation: str = Field(description="the article's equation number, empty where it has none")


class GradientInfo(BaseModel):
    name: str
    equation: str
    shape: list[int] = Field(description="for one image, or the parameter's shape")
    meaning: str


class EquationKindInfo(BaseModel):
    name: str = Field(description="a kind POST /equation answers, named as the article names the quantity")
    equation: str = Field(description="the article's equation number(s)")
    shape: list[int] = Field(description="the cells its index addresses (update: its parameter's, in param_shapes)")
    what: str


class RecipeInfo(BaseModel):
    name: str
    batch_size: int = Field(description="images a step")
    epochs: int = Field(description="the length of the run the recipe is made for")


class TrainingInfo(BaseModel):
    """What the page needs to know about POST /train and the visitor's copies, so it writes none of it down."""

    recipes: list[RecipeInfo]
    max_images: int = Field(description="images a /train request may take, over all its steps")
    article_log: dict[str, list[list[float]]] = Field(
        description="the article's companion code's small run, by epoch: held-out accuracy and loss"
    )
    params_length: int = Field(description="base64 characters of a visitor's parameters (float32)")
    tune_steps: int = Field(description="steps a POST /drawings/tune request may take: a class fine-tune's round")

    @classmethod
    def now(cls) -> TrainingInfo:
        return cls(
            recipes=[RecipeInfo(name=n, batch_size=RECIPES[n].batch_size, epochs=RECIPES[n].epochs) for n in NAMES],
            max_images=MAX_TRAIN_IMAGES,
            article_log={
                "accuracy": [[e, a] for e, a in sorted(ARTICLE_SMALL_RUN.items())],
                "loss": [[e, loss] for e, loss in sorted(ARTICLE_SMALL_RUN_LOSS.items())],
            },
            params_length=ENCODED_LENGTH,
            tune_steps=MAX_TRAIN_IMAGES // CLASS.batch_size,
        )


class ModelInfo(BaseModel):
    # Its example is the served network's own answer, put into the OpenAPI document by app/main.py.
    architecture: list[str]
    layers: list[LayerInfo] = Field(description="the forward pass, in order (model/architecture.py)")
    gradients: list[GradientInfo] = Field(description="backpropagation's gradients, in the order it computes them")
    feature_maps: list[str] = Field(description="the layers /predict returns with feature_maps=true")
    equations: list[EquationKindInfo] = Field(
        description="what POST /equation answers, in the article's order, from the image to the update (66)"
    )
    parameters: int
    param_shapes: dict[str, list[int]]
    sha256: str
    weights_file: str
    max_batch: int
    max_body_bytes: int
    metadata: dict[str, Any] = Field(description="how the weights were made: test accuracy, settings, date...")
    training: TrainingInfo = Field(description="the recipes and limits of POST /train and of a visitor's copies")
    collecting: bool = Field(
        description="whether POST /drawings saves drawings for the class (CNN_TEACHER_TOKEN is set); "
        "false: every /drawings endpoint answers 404, and the page offers no saving"
    )

    @staticmethod
    def content(
        metadata: dict[str, Any], weights_file: str, max_batch: int, max_body_bytes: int, *, collecting: bool
    ) -> dict[str, Any]:
        return ModelInfo(
            architecture=metadata["architecture"]["layers"],
            layers=[LayerInfo(**layer._asdict()) for layer in LAYERS],
            gradients=[GradientInfo(**g._asdict()) for g in GRADIENTS],
            feature_maps=list(FEATURE_MAPS),
            equations=[EquationKindInfo(**kind._asdict()) for kind in EQUATION_KINDS],
            parameters=NUM_PARAMS,
            param_shapes={k: list(v) for k, v in PARAM_SHAPES.items()},
            sha256=metadata["sha256"],
            weights_file=weights_file,
            max_batch=max_batch,
            max_body_bytes=max_body_bytes,
            metadata={k: v for k, v in metadata.items() if k not in ("architecture", "sha256")},
            training=TrainingInfo.now(),
            collecting=collecting,
        ).model_dump()


class Kernels(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"k1": [[[0.1] * 5] * 5] * 6, "b1": [0.0] * 6, "k2": [[[[0.1] * 5] * 5] * 6] * 12, "b2": [0.0] * 12}
            ]
        }
    )

    k1: list[list[list[float]]] = Field(description="(6, 5, 5) the first layer's kernels")
    b1: list[float]
    k2: list[list[list[list[float]]]] = Field(description="(12, 6, 5, 5)")
    b2: list[float]

    @staticmethod
    def content(params: Params) -> dict[str, Any]:
        return {k: np.asarray(params[k]).astype(np.float64).tolist() for k in ("k1", "b1", "k2", "b2")}


class Health(BaseModel):
    # Its example carries the served weights' SHA-256, put into the OpenAPI document by app/main.py.
    status: str
    model_loaded: bool
    sha256: str

    @staticmethod
    def content(sha256: str) -> dict[str, Any]:
        return {"status": "ok", "model_loaded": True, "sha256": sha256}
