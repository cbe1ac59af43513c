"""Light imports (issue 21): each light module, imported alone in a fresh interpreter, loads no model runtime,
FAISS, BM25 or numpy, so middleware, settings and the CLI's quick paths stay cheap. And the packages' lazy
names are the names their TYPE_CHECKING blocks declare, so editors and type checkers see what runs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

LIGHT = ["qa", "qa.errors", "qa.config", "qa.markup", "qa.wording", "qa.history", "qa.safety", "qa.red_flags",
         "plumbing.environment", "plumbing.files", "index.errors", "server.responses", "server.guard", "server.routes",
         "server.bodies", "server.chat_requests", "server.sessions", "server.logs", "server.setup_checks"]
HEAVY = ["faiss", "onnxruntime", "torch", "bm25s", "sentence_transformers", "transformers", "gradio", "numpy"]
PROBE = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(set(sys.argv[2:]) & set(sys.modules))))"


@pytest.mark.parametrize("module", LIGHT)
def test_a_light_module_loads_nothing_heavy(module):
    done = subprocess.run([sys.executable, "-c", PROBE, module, *HEAVY], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [], f"importing {module} loaded {done.stdout.strip()}"


def _type_checking_names(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING")
    return {alias.asname or alias.name for node in block.body for alias in node.names}


def test_the_lazy_names_are_the_declared_ones():
    import index
    import qa

    assert _type_checking_names(REPO / "index" / "__init__.py") == set(index._EXPORTS)
    assert _type_checking_names(REPO / "qa" / "__init__.py") == set(qa._HEAVY)
    assert qa.Answerer.__module__ == "qa.answerer" and index.SearchIndex.__module__ == "index.search_index"
