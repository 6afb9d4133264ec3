"""Who may train at once: the few training slots the request path hands out (Runs.training_slot)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .errors import TooManyTrainers

TEACHER_SLOTS = 2  # the teacher's fine-tunes at once (a second tab, a retry overlapping its request)


class TrainingSlots:
    """Who may train at once. Visitors' /train share `visitors` slots; the teacher's fine-tune (only
    the token's holder reaches it) has TEACHER_SLOTS of its own, so however many visitors loop
    /train, the teacher's next round is admitted. While one of the teacher's rounds is in flight no
    new visitor is admitted, so it waits in the pool's queue only behind the visitors already there."""

    def __init__(self, visitors: int, teacher: int = TEACHER_SLOTS) -> None:
        self.limits = {False: visitors, True: teacher}
        self.running = {False: 0, True: 0}

    @property
    def total(self) -> int:
        return self.running[False] + self.running[True]

    @contextlib.contextmanager
    def hold(self, whose: str) -> Iterator[None]:
        """One of `whose` slots ("visitor" or "teacher", as the endpoint declares) while the block runs."""
        teacher = whose == "teacher"
        if self.running[teacher] >= self.limits[teacher] or (not teacher and self.running[True]):
            whose = "of the teacher's fine-tunes" if teacher else "training requests"
            raise TooManyTrainers(f"{self.running[teacher]} {whose} are running; try again in a moment")
        self.running[teacher] += 1
        try:
            yield
        finally:
            self.running[teacher] -= 1
