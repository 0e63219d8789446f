"""The shipped particle parameters against issue 19's acceptance, on 100 seeded episodes (slow: about a minute).

Measured when they were trained (`simlab ibc train particle --dim N --publish`, seed 0; bench/ibc.py repeats the
training with another seed): 2-D EBM (Langevin) 0.98, EBM (DFO) 0.77, MSE 0.93, MDN 0.08. The checks below keep a
margin below those figures. The paper's MSE <= 0.5 on 2-D does not reproduce here (the paper's own N-D figure
has MSE succeeding up to 8-D), so it is not asserted.
"""
from __future__ import annotations

import pytest

from simlab.plugins.ibc import pipeline

pytestmark = pytest.mark.slow


def _success(dim: int, name: str) -> float:
    trained = pipeline.load_models("particle", {"dim": dim}, [name])[name]
    return pipeline.evaluate_trained("particle", {"dim": dim}, trained, episodes=100)["success_rate"]


def test_2d_the_langevin_ebm_succeeds_in_at_least_90_percent():
    assert _success(2, "ebm_langevin") >= 0.90


def test_2d_the_energy_models_beat_the_mixture_density_network():
    assert min(_success(2, "ebm_langevin"), _success(2, "ebm_dfo")) > _success(2, "mdn") + 0.3
