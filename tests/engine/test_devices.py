"""`engine.devices`: bad device requests are refused with the fix; a started JAX warns instead of pretending."""
import warnings

import jax
import pytest

from simlab import engine, envs
from simlab.engine import devices


@pytest.mark.parametrize("bad, words", [
    ("gpu", "pass 'all'"), (0, "local device"), (10_000, "local device"), ([], "non-empty list"),
    (["cpu:0"], "non-empty list of jax.Device"), (True, "pass 'all'"),
])
def test_bad_device_requests_name_the_fix(bad, words):
    with pytest.raises(ValueError, match=words):
        envs.make("pendulum", num_envs=4, devices=bad)


def test_batch_devices_and_mesh():
    local = jax.local_devices()
    assert devices.batch_devices("all") == local
    assert devices.batch_devices(None) == local[:1] == devices.batch_devices(1)
    assert devices.batch_devices(local[:1]) == local[:1]
    assert devices.batch_mesh(1, "all") is None  # one environment never spans devices
    assert envs.make("pendulum", num_envs=3, devices=1).num_devices == 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "all"])
def test_use_all_cpu_cores_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive int"):
        engine.use_all_cpu_cores(bad)


def test_use_all_cpu_cores_after_jax_started_warns_with_the_fix():
    have = len(jax.devices("cpu"))  # JAX is started in the test process
    with pytest.warns(RuntimeWarning, match="before any JAX computation"):
        assert engine.use_all_cpu_cores(have + 1) == have
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.use_all_cpu_cores(have + 1, quiet=True) == have


def test_bad_num_envs_and_refresh_period():
    with pytest.raises(ValueError, match="num_envs must be a positive int"):
        envs.make("pendulum", num_envs=0)
    with pytest.raises(ValueError, match="refresh_every"):
        engine.AutoReset(envs.make("pendulum", episode_length=None), refresh_every=0)
