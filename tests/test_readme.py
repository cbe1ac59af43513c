"""The README as a newcomer reads it on a fresh clone: its links lead to files of the clone, its two commands
are the ones CI runs, and the contract it points to is the one the project keeps."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
SHARED_CONTRACT = REPO.parent / "shared" / "spec" / "contract.md"


def test_every_relative_link_leads_to_a_file_of_the_clone():
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    local = [link.split("#")[0] for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    assert "docs/contract.md" in local
    missing = [link for link in local if link and not (REPO / link).exists()]
    assert not missing, missing
    assert not [link for link in local if link.startswith("../")]  # nothing outside the clone
    assert "shared/spec" not in README


def test_the_readme_starts_with_a_virtual_environment_and_ci_runs_its_test_command():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert "-m venv" in first_block
    test_command = "bash tests/setup.sh && pip install -r requirements.txt && python -m pytest -q"
    assert test_command in README
    assert (REPO / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith(test_command)


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="the team's copy of the contract is not beside this clone")
def test_the_projects_contract_is_the_teams():
    assert (REPO / "docs" / "contract.md").read_text(encoding="utf-8") == SHARED_CONTRACT.read_text(encoding="utf-8")
