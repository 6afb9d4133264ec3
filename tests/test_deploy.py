"""deploy/kubernetes/: the manifests are valid Kubernetes, and they describe this service and image.

Validated against the Kubernetes API's own schemas (kubernetes-validate, strict: unknown fields
are errors), no cluster needed. Then the facts they rely on are checked against the app and the
Dockerfile: the probes' paths exist and answer, the port and the user are the image's, the grace
period covers the service's own shutdown bound, and the kustomization names every manifest.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
KUBERNETES = "1.33"  # the API version validated against: a release that is maintained
CONFIG = ROOT / "app" / "config.py"
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_each_manifest_is_valid_kubernetes(path):
    kubernetes_validate.validate(yaml.safe_load(path.read_text()), KUBERNETES, strict=True)


def test_the_kustomization_names_every_manifest_and_the_image():
    k = load("kustomization.yaml")
    assert sorted(k["resources"]) == [p.name for p in MANIFESTS]
    container = load("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert [i["name"] for i in k["images"]] == [container["image"].split(":")[0]]
    assert [r["name"] for r in k["replicas"]] == [load("deployment.yaml")["metadata"]["name"]]


def test_the_deployment_runs_the_image_as_built_and_locked_down():
    dockerfile = (ROOT / "Dockerfile").read_text()
    spec = load("deployment.yaml")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    user, group = re.search(r"^USER (\d+):(\d+)", dockerfile, re.M).groups()
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (int(user), int(group))
    assert spec["securityContext"]["runAsNonRoot"] is True
    port = int(re.search(r"^EXPOSE (\d+)", dockerfile, re.M).group(1))
    assert container["ports"][0]["containerPort"] == port
    lock = container["securityContext"]
    assert (
        lock["readOnlyRootFilesystem"]
        and not lock["allowPrivilegeEscalation"]
        and lock["capabilities"]["drop"] == ["ALL"]
    )
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}  # the only place it writes
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CNN_WORKERS"] == "1"  # one uvicorn process per container: scale with replicas
    assert spec["terminationGracePeriodSeconds"] >= float(env["CNN_SHUTDOWN_TIMEOUT"]) + 5
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert limits["cpu"] == env["CNN_POOL_WORKERS"]  # a pool worker per core it may use
    assert requests["memory"] and limits["memory"]


def test_the_database_and_the_teachers_token_come_from_a_secret():
    container = load("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for name in ("CNN_DATABASE_URL", "CNN_TEACHER_TOKEN"):
        assert "value" not in env[name], f"{name} must not be written in the manifest"
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "numpy-cnn-drawings" and ref["key"]
    # the names are the service's own settings:
    assert {"CNN_DATABASE_URL", "CNN_TEACHER_TOKEN"} <= set(re.findall(r"CNN_[A-Z_]+", CONFIG.read_text()))


def test_the_probes_and_the_scrape_ask_endpoints_that_answer():
    template = load("deployment.yaml")["spec"]["template"]
    container = template["spec"]["containers"][0]
    paths = {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe")}
    scrape = template["metadata"]["annotations"]
    assert int(scrape["prometheus.io/port"]) == container["ports"][0]["containerPort"]
    with TestClient(create_app(Settings(weights=WEIGHTS))) as client:
        for path in paths:
            assert client.get(path).status_code == 200
        metrics = client.get(scrape["prometheus.io/path"])
        assert metrics.status_code == 200 and "cnn_http_requests_total" in metrics.text


def test_the_autoscaler_and_the_budget_point_at_the_deployment():
    name = load("deployment.yaml")["metadata"]["name"]
    labels = load("deployment.yaml")["spec"]["selector"]["matchLabels"]
    assert load("hpa.yaml")["spec"]["scaleTargetRef"]["name"] == name
    assert load("pdb.yaml")["spec"]["selector"]["matchLabels"] == labels
    assert load("service.yaml")["spec"]["selector"] == labels
