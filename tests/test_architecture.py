"""The package's shape: imports flow one way, no cycles, a small public API, a current picture."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

from boneage.cli.architecture import REPO_ROOT, cycles, module_imports, violations, with_graph


def test_each_part_imports_only_the_parts_below_it():
    assert violations(module_imports()) == []


def test_no_module_imports_itself_round_a_loop():
    assert cycles(module_imports()) == []


def test_the_rules_catch_serving_code_that_imports_training_and_loops():
    graph = {
        "boneage.predictor": {"boneage.training.data"},
        "boneage.io.decode": {"boneage.io.dicom"},
        "boneage.io.dicom": {"boneage.io.decode"},
        "boneage.training.data": set(),
    }
    assert violations(graph) == [
        "boneage.predictor imports boneage.training.data (predictor may not import training)"
    ]
    assert cycles(graph) == [["boneage.io.decode", "boneage.io.dicom"]]


def test_the_picture_in_docs_architecture_is_current():
    document = (REPO_ROOT / "docs" / "architecture.md").read_text()
    assert with_graph(document, module_imports()) == document, (
        "redraw it: python -m boneage.cli.architecture --write docs/architecture.md"
    )


def test_the_public_api_is_small_and_import_boneage_is_light():
    code = (
        "import sys, boneage; light = 'torch' not in sys.modules; "
        "from boneage import Predictor, analyse, load_radiograph, Radiograph, BoneAgeError; "
        "missing = [n for n in boneage.__all__ if not hasattr(boneage, n)]; "
        "print(light, missing, Predictor.__module__, analyse.__module__, load_radiograph.__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert done.stdout.split() == [
        "True",
        "[]",
        "boneage.predictor",
        "boneage.predictor",
        "boneage.io.decode",
    ]


def test_every_tool_in_cli_runs_as_a_module(capsys):
    """``python -m boneage.cli.<tool>`` for each tool: a main() behind the __main__ guard, --help works."""
    import boneage.cli

    tools = [info.name for info in pkgutil.iter_modules(boneage.cli.__path__)]
    assert {"evaluate", "predict", "interval", "publish", "fonts", "architecture"} <= set(tools)
    for tool in tools:
        module = importlib.import_module(f"boneage.cli.{tool}")
        assert 'if __name__ == "__main__":' in (REPO_ROOT / "boneage" / "cli" / f"{tool}.py").read_text(), (
            tool
        )
        with pytest.raises(SystemExit) as done:
            module.main(["--help"])
        assert done.value.code == 0, tool
        assert "usage:" in capsys.readouterr().out
