"""Fixtures of the run-safety tests: one finished tiny run per test module, and a fresh copy per test."""
from __future__ import annotations

import shutil

import pytest

from run_safety_support import train_tiny


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A finished 6-iteration run: rows for iterations 1..6, checkpoints 2, 4, 6."""
    out = tmp_path_factory.mktemp("base") / "run"
    result = train_tiny(out, 6)
    return out, result


@pytest.fixture
def run_copy(base_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(base_run[0], out)
    return out
