"""deploy/kserve/: the InferenceService is what KServe's own API models describe, and it runs this
image as deploy/kubernetes/ does, with probes on the protocol's health endpoints.

The kserve package ships the InferenceService's API as generated models (kserve.models, with the
Kubernetes types from kubernetes.client.models): every field of the manifest is walked against
them, strictly (an unknown or misspelt field is an error, as the API server's would be), and the
pod part is validated against Kubernetes' own schema as well.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kserve.models
import kubernetes.client.models
import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "deploy" / "kserve" / "inferenceservice.yaml"
DEPLOYMENT = ROOT / "deploy" / "kubernetes" / "deployment.yaml"
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}
QUANTITY = ("ResourceQuantity", "IntOrString")  # strings or numbers, as Kubernetes writes them


def model_class(name: str) -> Any:
    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no API model named {name}")


def mistakes(value: Any, kind: str, where: str = "") -> list[str]:
    """Where `value` is not a `kind` of the API models: unknown fields, wrong types."""
    if (inner := re.fullmatch(r"[lL]ist\[(.*)\]", kind)) is not None:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [m for i, v in enumerate(value) for m in mistakes(v, inner[1], f"{where}[{i}]")]
    if (inner := re.fullmatch(r"[dD]ict[(\[]str, (.*)[)\]]", kind)) is not None:  # kserve's and kubernetes' spellings
        if not isinstance(value, dict):
            return [f"{where}: not a mapping"]
        return [m for k, v in value.items() for m in mistakes(v, inner[1], f"{where}.{k}")]
    if kind in QUANTITY:
        return [] if isinstance(value, str | int) else [f"{where}: not a quantity"]
    if kind in PRIMITIVES:
        return [] if isinstance(value, PRIMITIVES[kind]) else [f"{where}: not {kind}"]
    if not isinstance(value, dict):
        return [f"{where}: not an object ({kind})"]
    cls = model_class(kind)
    fields = {json_name: python_name for python_name, json_name in cls.attribute_map.items()}
    found = []
    for key, v in value.items():
        if key not in fields:
            found.append(f"{where}.{key}: not a field of {kind}")
        else:
            found += mistakes(v, cls.openapi_types[fields[key]], f"{where}.{key}")
    return found


@pytest.fixture(scope="module")
def isvc() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


@pytest.fixture(scope="module")
def deployment() -> dict:
    return yaml.safe_load(DEPLOYMENT.read_text())


def test_the_manifest_is_an_inference_service_by_kserves_own_models(isvc):
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    assert mistakes(isvc, "V1beta1InferenceService") == []


def test_the_walk_finds_a_misspelt_field(isvc):
    bad = yaml.safe_load(MANIFEST.read_text())
    bad["spec"]["predictor"]["minReplica"] = 1
    bad["spec"]["predictor"]["containers"][0]["port"] = 8000
    assert len(mistakes(bad, "V1beta1InferenceService")) == 2


def test_the_predictors_pod_is_valid_kubernetes(isvc):
    kserve_only = {"minReplicas", "maxReplicas", "scaleMetric", "scaleTarget"}
    spec = {k: v for k, v in isvc["spec"]["predictor"].items() if k not in kserve_only}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "digits"}, "spec": spec}
    kubernetes_validate.validate(pod, "1.33", strict=True)


def test_it_runs_the_image_locked_down_as_the_deployment_does(isvc, deployment):
    predictor, pod = isvc["spec"]["predictor"], deployment["spec"]["template"]["spec"]
    (container,), (theirs,) = predictor["containers"], pod["containers"]
    assert container["name"] == "kserve-container"
    assert container["image"] == theirs["image"]
    assert predictor["securityContext"] == pod["securityContext"]
    assert container["securityContext"] == theirs["securityContext"]
    assert predictor["automountServiceAccountToken"] is False
    assert predictor["terminationGracePeriodSeconds"] == pod["terminationGracePeriodSeconds"]
    assert container["resources"] == theirs["resources"] and container["env"] == theirs["env"]
    assert container["ports"][0]["containerPort"] == theirs["ports"][0]["containerPort"] == 8000
    assert predictor["volumes"] == pod["volumes"] and container["volumeMounts"] == theirs["volumeMounts"]


def test_the_probes_ask_the_protocols_health_endpoints_which_answer(isvc):
    (container,) = isvc["spec"]["predictor"]["containers"]
    probes = {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")}
    assert probes == {"/v2/health/ready", "/v2/health/live"}
    assert {container[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe")} == {8000}
    with TestClient(create_app(Settings(weights=WEIGHTS, pool_workers=1))) as client:
        for path in probes:
            assert client.get(path).status_code == 200
