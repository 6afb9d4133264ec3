"""A Job -> its endpoint's Answer: read the request as declared, run the handler, encode the answer.

The same function answers on the event loop and in a worker process (app/transport/pool.py).
"""

from __future__ import annotations

from typing import Any

from app.config import Settings
from model.floats import flush_to_zero

from .endpoints import Call, Endpoint
from .facts import Facts
from .jobs import Answer, Job, NeedsWorker
from .strict_json import dumps


def answer(endpoint: Endpoint, job: Job, clf: Any, settings: Settings, *, on_loop: bool = False) -> Answer:
    """The endpoint's answer to the job, or its failure in its family's words. On the event loop
    (on_loop) a request that needs more work than the loop may do raises NeedsWorker instead."""
    facts = Facts()
    try:
        with flush_to_zero():  # a subnormal costs what any other number does (model/floats.py)
            request = None if endpoint.request is None else endpoint.request.read(job, settings)
            if endpoint.handler is None:
                raise LookupError(f"{endpoint.name} is answered by its own step alone (its serve)")
            content = endpoint.handler(request, Call(clf, settings, facts, on_loop, job.query))
        if isinstance(content, Answer):
            return content
        if isinstance(content, bytes):
            return Answer(200, content, media_type=endpoint.reply.media_type)
        body = dumps(content)
        facts.lap("encode")
        # The stages' metrics are of reading bodies: an endpoint that reads none (GET) has no stages.
        return Answer(200, body, facts=facts if endpoint.request is not None else None)
    except NeedsWorker:
        raise
    except Exception as e:  # noqa: BLE001 -- every failure is answered, and logged when it is ours
        return endpoint.fail(e)
