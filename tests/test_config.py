"""clinic.toml and environment variables: defaults, overrides and errors that say what to fix."""

from __future__ import annotations


import pytest

from qa.config import ConfigError, load_settings
from tests.conftest import REPO


def test_the_shipped_clinic_file_loads():
    settings = load_settings(REPO / "clinic.toml", environ={})
    assert settings.emergency_number == "911" and settings.crisis_line == "988"
    assert "call 911" in settings.disclaimer and settings.max_passages == 3
    assert settings.store_question_text is False
    assert 4 <= len(settings.examples) <= 6


def test_environment_overrides_paths(tmp_path):
    settings = load_settings(REPO / "clinic.toml", environ={"QA_INDEX_DIR": str(tmp_path / "i"), "QA_SOURCES_DIR": str(tmp_path)})
    assert settings.index_dir == tmp_path / "i" and settings.sources_dir == tmp_path


@pytest.mark.parametrize("text, message", [
    ("[answer]\nmax_passages = 0\n", r"max_passages must be between 1 and 10, got 0"),
    ("[answer]\nmax_passages = 'three'\n", r"\[answer\] max_passages must be a whole number, got 'three'"),
    ("[answer]\ndisclaimer = 'Call {number}'\n", r"disclaimer has an unknown placeholder"),
    ("[answer]\ncolour = 'red'\n", r"unknown setting \[answer\] colour. Known keys in \[answer\]: "),
    ("[widget]\nallowed_origins = 'x'\n", r"allowed_origins must be a list of strings"),
    ("not toml at all = = \n", r"is not valid TOML"),
])
def test_bad_settings_name_the_key_and_the_fix(tmp_path, text, message):
    path = tmp_path / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_qa_config_pointing_nowhere_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="QA_CONFIG points at .* which does not exist"):
        load_settings(environ={"QA_CONFIG": str(tmp_path / "missing.toml")})
