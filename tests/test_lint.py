"""The code base stays ruff-clean (lint and format), checked where CI runs the tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPO_ROOT


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is missing: it is installed by requirements-dev.txt")
    result = subprocess.run([ruff, *command], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
