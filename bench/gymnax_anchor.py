"""gymnax as the classic-control anchor: its environments stepped the way a gymnax user writes the loop.

    rows = measure_gymnax("CartPole-v1", [1024, 4096], lambda n: 512)

The loop is `jit(lax.scan(body))`, where `body` samples one random action per environment from
`env.action_space(params)` with a split key and calls `vmap(env.step)(keys, state, action, params)`;
gymnax's `step` returns `(obs, state, reward, terminated, truncated, info)` and resets finished
environments itself (a fresh `reset_env` for every environment, selected with `where`).
Timing goes through `harness.time_compiled`, as our fused loop does (`harness.time_fused`), so the two
are measured alike: one compile, one warm-up call, best of `repeats` timed calls.

gymnax 1.0.1 pins `gymnasium<1.4`, older than ours, so it is installed without its dependencies:
`pip install --no-deps gymnax==1.0.1 flax seaborn`.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from bench import harness

#: simlab environment name -> the gymnax id with the same semantics.
GYMNAX_ANCHORS = {"cartpole": "CartPole-v1", "pendulum": "Pendulum-v1"}

INSTALL_HINT = "pip install --no-deps gymnax==1.0.1 flax seaborn"


class GymnaxUnavailableError(ImportError):
    """gymnax cannot be imported."""


def import_gymnax():
    """The `gymnax` module; GymnaxUnavailableError with the install command otherwise."""
    try:
        import gymnax
    except ImportError as err:
        raise GymnaxUnavailableError(
            f"the gymnax anchor needs gymnax ({err}); it pins gymnasium<1.4, so install it without its "
            f"dependencies: `{INSTALL_HINT}`") from None
    return gymnax


def make_gymnax_loop(env, params, num_envs: int, num_steps: int, carry_obs: bool = False) -> Callable:
    """`run(state, key) -> (state, reward_sum)`: `num_steps` random-action batched gymnax steps in one scan.

    `state` is the batched gymnax environment state (`vmap(env.reset)`); not jitted (the caller does).
    A gymnax state holds no observation and random actions ignore it, so XLA drops the observation's
    computation from this loop. With `carry_obs=True`, `state` is `(env_state, obs)` and the observation
    is carried through the scan and returned, as our `State.obs` is and as a policy that reads it needs.
    """
    action_space = env.action_space(params)
    sample = jax.vmap(action_space.sample)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def body(carry, key):
        state, obs, total = carry
        action_key, step_key = jax.random.split(key)
        action = sample(jax.random.split(action_key, num_envs))
        obs, state, reward, *_ = step(jax.random.split(step_key, num_envs), state, action, params)
        return (state, obs if carry_obs else None, total + jnp.sum(reward)), None

    def run(state, key):
        state, obs = state if carry_obs else (state, None)
        (state, obs, total), _ = jax.lax.scan(body, (state, obs, jnp.zeros((), jnp.float32)),
                                              jax.random.split(key, num_steps))
        return ((state, obs) if carry_obs else state), total

    return run


def measure_gymnax(env_id: str, sizes: list[int], steps_per_call: Callable[[int], int],
                   repeats: int = 3, seed: int = 0, carry_obs: bool = False) -> list[dict]:
    """Env-steps/s of gymnax `env_id` at each batch size in `sizes` (`carry_obs`: see `make_gymnax_loop`).

    Returns one row per size: `{"num_envs", "steps_per_s", "compile_s"}` (plus `seconds_per_call`,
    `steps_per_call` and `finite` from `harness.time_compiled`).
    """
    gymnax = import_gymnax()
    env, params = gymnax.make(env_id)
    rows = []
    for n in sizes:
        num_steps = int(steps_per_call(n))
        key = jax.random.key(seed)
        obs, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(key, n), params)
        state = (state, obs) if carry_obs else state
        jax.block_until_ready(state)
        run = make_gymnax_loop(env, params, n, num_steps, carry_obs)
        rows.append(harness.time_compiled(run, state, key, n, num_steps, repeats))
    return rows
