"""Multi-device and multi-process execution give the single-device numbers."""
import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from simlab import engine
from simlab import envs

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


def _run(args, env_extra, timeout=240):
    env = {**os.environ, **env_extra, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(SCRIPTS)) + "/..", os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=os.path.dirname(os.path.dirname(os.path.dirname(SCRIPTS))))


def test_sharded_rollout_on_4_cpu_devices_matches_single_device():
    proc = _run([os.path.join(SCRIPTS, "sharded_rollout.py")],
                {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4
    assert result["devices_holding_transitions"] == 4
    assert result["episodes_finished"] > 0  # auto-resets happened inside the sharded program
    # Elementwise physics and partitionable RNG: identical to the last bit.
    assert result["max_abs_diff"] == 0.0
    assert result["max_abs_diff_vs_plain_jit"] == 0.0
    # The default path splits envs.make's batch over all 4 devices by itself, padded when 4 does not divide it,
    # and gives the one-device numbers, fresh auto-resets included (none restarted from a used initial state).
    assert result["small_batch_devices"] == 1  # 64 pendulums: splitting would cost more than it saves
    for n, row in result["default_path"].items():
        assert row["devices"] == row["devices_holding_obs"] == int(n) // 512, (n, row)  # 4 and 3 (padded)
        assert row["episodes_finished"] >= int(n) * 5, (n, row)
        assert row["max_abs_diff"] < 1e-5 and row["final_state_diff"] < 1e-5, (n, row)  # padding may reassociate
        assert row["stale_resets"] == 0, (n, row)


def test_physics_sharded_over_4_cpu_devices_matches_one_device_without_lapack_deadlock():
    proc = _run([os.path.join(SCRIPTS, "sharded_physics.py")],
                {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["devices_holding_q"] == 4
    assert result["chunk"] < result["per_device"]  # the per-device batch was chunked below the LAPACK limit
    assert result["finite"]
    # Per-system computation is identical whatever the batching; allow float reassociation.
    assert result["max_abs_diff"] < 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_localhost_job_matches_single_process():
    port = _free_port()
    script = os.path.join(SCRIPTS, "multihost_worker.py")
    extra = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}
    env = {**os.environ, **extra}
    cwd = os.path.dirname(os.path.dirname(os.path.dirname(SCRIPTS)))
    env["PYTHONPATH"] = cwd
    procs = [subprocess.Popen([sys.executable, script, str(port), str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=cwd) for i in range(2)]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            p.kill()
    # Reference: the same rollout in this (single-device) process.
    num_envs, num_steps = 16, 30
    e = envs.make("cartpole_swingup", num_envs=num_envs, episode_length=12)
    rollout = jax.jit(engine.make_rollout(e, engine.uniform_policy(e.action_spec), num_steps))
    _, tr = rollout(jax.jit(e.reset)(jax.random.key(21)), jax.random.key(22))
    expected = float(np.asarray(tr.reward, np.float32).sum())
    for out in outputs:
        assert out["devices"] == 2
        assert out["id_sum"] == sum(range(num_envs))
        np.testing.assert_allclose(out["reward_sum"], expected, rtol=1e-5)


def test_sharding_rejects_indivisible_batch():
    mesh = engine.sharding.make_mesh()
    env = envs.make("pendulum", num_envs=3)
    if mesh.devices.size == 1:
        engine.sharding.check_divisible(3, mesh)  # always divisible by one device
        fake = type("FakeMesh", (), {"devices": np.zeros(2)})()
        with pytest.raises(ValueError, match="multiple of 2"):
            engine.sharding.check_divisible(3, fake)
    with pytest.raises(TypeError, match="batched env"):
        engine.sharding.make_sharded_rollout(envs.make("pendulum"), engine.uniform_policy(env.action_spec), 5, mesh)
