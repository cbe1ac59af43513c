"""Setup that warns at start (issue 22): a server for other machines with the localhost-only origins or no
contact link says so, once each, naming the clinic.toml key; a server for this machine says nothing."""

from __future__ import annotations

import doctest
import json
import re

import pytest

import server.setup_checks as setup_checks
from qa.config import Settings
from server.setup_checks import serves_other_machines, setup_warnings
from tests.conftest import REPO


def test_examples_in_docstrings():
    assert doctest.testmod(setup_checks).failed == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "qa.example-clinic.org"])
def test_a_server_for_other_machines_with_the_defaults_gets_one_warning_per_key(host):
    warnings = setup_warnings(Settings(), host=host, config_file="/etc/qa/clinic.toml")
    assert len(warnings) == 2
    assert warnings[0].startswith("Warning: [widget] allowed_origins in /etc/qa/clinic.toml")
    assert warnings[1].startswith("Warning: [clinic] contact_url in /etc/qa/clinic.toml is empty")
    assert all("and restart." in w for w in warnings)


def test_a_configured_clinic_gets_no_warning_and_this_machine_never_does():
    ready = Settings(allowed_origins=("https://www.example-clinic.org",), contact_url="https://example-clinic.org/contact")
    assert setup_warnings(ready, host="0.0.0.0", config_file="clinic.toml") == []
    # A local origin beside the clinic's is fine (a developer's page), and so is a local server with defaults.
    mixed = Settings(allowed_origins=("http://localhost:*", "https://example-clinic.org"), contact_url="tel:555")
    assert setup_warnings(mixed, host="0.0.0.0", config_file="clinic.toml") == []
    for host in ("127.0.0.1", "localhost", "::1", "127.0.1.1"):
        assert not serves_other_machines(host) and setup_warnings(Settings(), host=host, config_file="x") == []


def test_python_app_py_prints_them_before_it_loads_anything(tmp_path, monkeypatch, capsys):
    import app
    import server.loader
    from qa import QAError

    class NotLoading:
        def __init__(self, settings):
            pass

        def get(self):
            raise QAError("stopped here by the test")

    config = tmp_path / "clinic.toml"
    text = (REPO / "clinic.toml").read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^allowed_origins = .*$", "allowed_origins = " + json.dumps(["http://localhost:*"]), text),
                      encoding="utf-8")
    monkeypatch.setenv("QA_CONFIG", str(config))
    monkeypatch.setattr(server.loader, "LazyAnswerer", NotLoading)
    assert app.main(["--host", "0.0.0.0", "--port", "9"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" in ")[0] for line in err[:2]] == ["Warning: [widget] allowed_origins", "Warning: [clinic] contact_url"]
    assert str(config) in err[0] and err[-1] == "Cannot start the chat: stopped here by the test"
    assert app.main(["--host", "127.0.0.1", "--port", "9"]) == 1
    assert capsys.readouterr().err.splitlines() == ["Cannot start the chat: stopped here by the test"]
