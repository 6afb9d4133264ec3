"""Every feature's endpoints, gathered: each family declares its own beside its handlers (api/,
interop/, drawings/, classes/); this table hands them to the request path and the worker pool
(app/main.py), which know no feature themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from app.api import endpoints as api
from app.api.service import Classifier
from app.classes.endpoints import CLASSES
from app.config import Settings
from app.drawings.endpoints import DRAWINGS
from app.interop.endpoints import OIP
from app.transport.endpoints import Endpoint
from app.transport.errors import SERVICE, Family
from app.transport.jobs import Answer, Job
from app.transport.request_path import answer_job

BY_NAME: dict[str, Endpoint] = {e.name: e for e in (*api.ENDPOINTS, *OIP, *DRAWINGS, *CLASSES)}


def family_of(route_name: str | None) -> Family:
    """The error family of the endpoint a route serves; the service's own for anything else."""
    endpoint = BY_NAME.get(route_name or "")
    return endpoint.family if endpoint is not None else SERVICE


def worker(settings: Settings) -> Callable[[Job], Answer]:
    """What a worker process answers with (app/transport/pool.py): the network loaded once, each job
    answered as its endpoint declares."""
    clf = Classifier.load(settings.weights)
    return lambda job: answer_job(BY_NAME[job.endpoint], job, clf, settings)
