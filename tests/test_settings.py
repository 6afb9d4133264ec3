"""The settings: one class (app/config.py), and the README's table says exactly what it holds."""

from __future__ import annotations

import re

import pytest

from app.config import Settings, SettingsError, variable
from tests.conftest import ROOT

ROW = re.compile(r"^\| `(CNN_[A-Z_]+)` \| (.+?) \| (.+?) \|$", re.M)
MODEL_ONLY = {"CNN_FAST"}  # read by model/fast/ (the model's switch, not the service's)


def readme_rows() -> list[tuple[str, str, str]]:
    return [row for row in ROW.findall((ROOT / "README.md").read_text()) if row[0] not in MODEL_ONLY]


def written(default: object) -> str:
    """A default as the README writes it: `1`/`0` for switches, numbers without a needless .0."""
    if isinstance(default, bool):
        return f"`{int(default)}`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def class_rows() -> list[tuple[str, str, str]]:
    rows = []
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = extra.get("readme_default") or written(field.default)
        rows.append((variable(name), str(default), str(field.description)))
    return rows


def test_the_readme_table_is_the_settings_class():
    assert readme_rows() == class_rows()


def test_every_setting_has_a_type_a_default_and_one_line_of_help():
    for name, field in Settings.model_fields.items():
        assert field.annotation is not None, name
        assert not field.is_required(), name
        assert field.description and "\n" not in field.description, name


def test_the_table_is_read_whole():
    """The comparison is not blind: every row of the table is found, one per setting."""
    assert len(readme_rows()) == len(Settings.model_fields) >= 20


def test_settings_are_built_from_the_environment_alone_when_asked(monkeypatch):
    monkeypatch.setenv("CNN_PORT", "8123")
    assert Settings().port == 8123
    assert Settings(port=9000).port == 9000  # what create_app's callers pass wins over the environment


def test_an_unknown_setting_is_refused():
    with pytest.raises(SettingsError, match="colour is not a setting"):
        Settings(colour="blue")  # type: ignore[call-arg]
