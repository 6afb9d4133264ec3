"""Prose that is true: every file of the project a docstring or comment names exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

SCANNED = ("app", "model", "bench", "tests", "static/js")
# A path the prose names: one of the project's top folders, then folders and a file with an extension;
# not part of a URL or of a relative path (preceded by "/" or "."), not a glob.
NAMED = re.compile(
    r"(?<![\w/.*])((?:app|model|bench|tests|static|docs|weights|deploy)/[\w/-]*[\w-]\.(?:py|js|md|html|css|json|npz|toml))\b"
)
# Where the wheel puts the page and the weights (tests/test_packaging.py looks for them there).
IN_THE_WHEEL = ("app/static/", "app/weights/")


def named_paths(text: str) -> set[str]:
    return {m.group(1) for m in NAMED.finditer(text)}


def sources() -> list[Path]:
    return [p for top in SCANNED for p in sorted((ROOT / top).rglob("*")) if p.suffix in (".py", ".js")]


def test_every_file_the_prose_names_exists():
    missing = sorted(
        f"{path.relative_to(ROOT)}: {named}"
        for path in sources()
        for named in named_paths(path.read_text(errors="replace"))
        if not named.startswith(IN_THE_WHEEL) and not (ROOT / named).exists()
    )
    assert not missing, "\n".join(missing)


def test_a_file_that_is_gone_would_be_found():
    gone = "app/" + "handlers.py"  # written apart, so that this file does not name it
    text = f"its handler ({gone}), beside app/api/handlers.py; GET /docs/assets/x.js is a URL"
    assert named_paths(text) == {gone, "app/api/handlers.py"}
    assert not (ROOT / gone).exists() and (ROOT / "app/api/handlers.py").exists()
