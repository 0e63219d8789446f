"""The anchors of `bench/steps.py`: what a user would otherwise run, each at env level, as its users write it.

Every function returns `{"name", "rows": [{num_envs, steps_per_s, ...} | {num_envs, "error"}], ...}` or
`{"name", "skipped"|"error": reason}`; a failing anchor (missing package, crash, non-finite output) is
recorded and the bench goes on.
  * `brax_env`: `brax.envs.get_environment(name, backend=...)` (its own `dt`), wrapped by
    `brax.envs.training.wrap(env, episode_length=1000)` (AutoResetWrapper(EpisodeWrapper(VmapWrapper)):
    `jax.vmap(env.step)`, Brax's cached auto-reset to the episode's first state), `jit(lax.scan)` with
    uniform random actions in [-1, 1] drawn in the scan;
  * `envpool_env`: EnvPool's MuJoCo v5 env (`envpool.make_gymnasium`, default frame_skip, batch = all envs,
    internal auto-reset), synchronous `step` of random actions driven from Python, time-budgeted;
  * `gym_async`: gymnasium `make_vec(<id>, vectorization_mode="async")`, one worker process per env;
  * `gym_functional`: gymnasium's JAX `phys2d/*` env through `FunctionalJaxVectorEnv` (classic control);
  * `gymnax_env`: `bench.gymnax_anchor.measure_gymnax` (imported lazily).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bench import harness

# Our locomotion env -> (Brax env name, MuJoCo v5 id of EnvPool and gymnasium). Same control period on every side
# (0.05 s for ant/halfcheetah, 0.015 s for humanoid), checked in `setup`.
LOCOMOTION = {"ant": ("ant", "Ant-v5"), "halfcheetah": ("halfcheetah", "HalfCheetah-v5"),
              "humanoid": ("humanoid", "Humanoid-v5")}
# Classic env -> gymnasium's JAX functional counterpart (cheap to keep; gymnax is the anchor that matters).
GYM_FUNCTIONAL = {"cartpole": "phys2d/CartPole-v1", "cartpole_swingup": "phys2d/CartPole-v1",
                  "pendulum": "phys2d/Pendulum-v0"}
BRAX_EPISODE_LENGTH = 1000
# Workers start from a fresh server process, not forked from this multithreaded (JAX) one.
GYM_ASYNC_CONTEXT = "forkserver"


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _per_size(name: str, sizes, progress, label: str, measure: Callable[[int], dict]) -> dict:
    rows = []
    for n in sizes:
        progress.set_description(f"{label} n={n}")
        try:
            rows.append(measure(n))
        except Exception as err:  # one size failing (memory, crash, non-finite) is recorded, the rest still run
            rows.append({"num_envs": n, "error": _error(err)})
        progress.update(1)
    return {"name": name, "rows": rows}


def brax_env(env: str, backend: str, sizes, steps_per_call: Callable[[int], int], repeats: int, progress) -> dict:
    name = f"Brax {LOCOMOTION[env][0]} backend={backend}, training.wrap(episode_length={BRAX_EPISODE_LENGTH})"
    try:
        from brax import envs as brax_envs
        from brax.envs.wrappers import training

        benv = training.wrap(brax_envs.get_environment(LOCOMOTION[env][0], backend=backend),
                             episode_length=BRAX_EPISODE_LENGTH)
    except Exception as err:  # Brax missing or the pipeline cannot build on this JAX
        progress.update(len(sizes))
        return {"name": name, "error": _error(err)}

    def measure(n):
        steps = steps_per_call(n)
        state = jax.jit(benv.reset)(jax.random.split(jax.random.PRNGKey(0), n))

        def rollout(state, key):
            def body(carry, k):
                state, total = carry
                action = jax.random.uniform(k, (n, benv.action_size), minval=-1.0, maxval=1.0)
                state = benv.step(state, action)  # VmapWrapper: jax.vmap(env.step)
                return (state, total + jnp.sum(state.reward)), None
            (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)), jax.random.split(key, steps))
            return state, total

        row = harness.time_compiled(rollout, state, jax.random.PRNGKey(1), n, steps, repeats)
        row["dt"] = float(benv.dt)
        return row

    out = _per_size(name, sizes, progress, f"brax {backend}", measure)
    out["wrappers"] = " <- ".join(type(w).__name__ for w in _wrapper_chain(benv))
    return out


def _wrapper_chain(env):
    while env is not None:
        yield env
        env = getattr(env, "env", None)


def _python_loop(step_once: Callable[[], np.ndarray], n: int, budget_s: float) -> dict:
    """`harness.time_python_loop`; raises FloatingPointError if the last rewards are not finite."""
    last = {}

    def step():
        last["reward"] = step_once()

    row = harness.time_python_loop(step, n, 10 ** 7, budget_s)
    if not np.all(np.isfinite(np.asarray(last["reward"], np.float64))):
        raise FloatingPointError("non-finite reward after the timed loop")
    return row


def envpool_env(env: str, threads: int, sizes, budget_s: float, progress) -> dict:
    gym_id = LOCOMOTION[env][1]
    name = f"EnvPool {gym_id} num_threads={threads}"
    try:
        import envpool
    except ImportError as err:
        progress.update(len(sizes))
        return {"name": name, "error": f"{_error(err)} (pip install envpool)"}
    rng = np.random.default_rng(0)

    def measure(n):
        used = min(threads, n)
        pool = envpool.make_gymnasium(gym_id, num_envs=n, batch_size=n, num_threads=used, seed=0)
        try:
            pool.reset()
            space = pool.action_space
            actions = rng.uniform(space.low, space.high, (8, n) + space.shape).astype(space.dtype)
            calls = [0]

            def step_once():
                calls[0] += 1
                return pool.step(actions[calls[0] % 8])[1]

            row = _python_loop(step_once, n, budget_s)
            row.update(threads=used, frame_skip=int(pool.spec.config.frame_skip))
            return row
        finally:
            pool.close()

    return _per_size(name, sizes, progress, f"envpool {threads}t", measure)


def gym_async(env: str, sizes, max_envs: int, budget_s: float, progress) -> dict:
    gym_id = LOCOMOTION[env][1]
    name = (f"gymnasium make_vec({gym_id!r}, vectorization_mode='async'): one worker process per env "
            f"(multiprocessing context {GYM_ASYNC_CONTEXT!r})")
    try:
        import gymnasium
    except ImportError as err:
        progress.update(len(sizes))
        return {"name": name, "error": _error(err)}
    run = [n for n in sizes if n <= max_envs]
    progress.update(len(sizes) - len(run))

    def measure(n):
        vec = gymnasium.make_vec(gym_id, num_envs=n, vectorization_mode="async",
                                 vector_kwargs={"context": GYM_ASYNC_CONTEXT})
        try:
            vec.reset(seed=0)
            vec.action_space.seed(0)
            actions = [vec.action_space.sample() for _ in range(8)]
            calls = [0]

            def step_once():
                calls[0] += 1
                return vec.step(actions[calls[0] % 8])[1]

            row = _python_loop(step_once, n, budget_s)
            row["workers"] = n
            return row
        finally:
            vec.close()

    out = _per_size(name, run, progress, "gym async", measure)
    out["max_envs"] = max_envs
    return out


def _gym_vector(gym_id: str, name: str, label: str, sizes, budget_s: float, progress) -> dict:
    """A gymnasium `make_vec(gym_id, vectorization_mode="vector_entry_point")` driven from Python."""

    def measure(n):
        import gymnasium

        venv = gymnasium.make_vec(gym_id, num_envs=n, vectorization_mode="vector_entry_point")
        try:
            venv.reset(seed=0)
            venv.action_space.seed(0)
            actions = [venv.action_space.sample() for _ in range(8)]
            calls = [0]

            def step_once():
                calls[0] += 1
                return venv.step(actions[calls[0] % 8])[1]

            return _python_loop(step_once, n, budget_s)
        finally:
            venv.close()

    return _per_size(name, sizes, progress, label, measure)


def gym_functional(env: str, sizes, budget_s: float, progress) -> dict:
    gym_id = GYM_FUNCTIONAL[env]
    return _gym_vector(gym_id, f"gymnasium {gym_id} FunctionalJaxVectorEnv (make_vec vector_entry_point), "
                               "driven from Python", "gymnasium FJVE", sizes, budget_s, progress)


def ours_gym_make_vec(gym_id: str, sizes, budget_s: float, progress) -> dict:
    """Ours through gymnasium's vector API, driven from Python like the gymnasium anchor."""
    return _gym_vector(gym_id, f"simlab {gym_id} make_vec(vector_entry_point), driven from Python",
                       "simlab make_vec", sizes, budget_s, progress)


def gymnax_env(env: str, sizes, steps_per_call: Callable[[int], int], repeats: int, progress) -> dict:
    try:
        from bench.gymnax_anchor import GYMNAX_ANCHORS, measure_gymnax
    except Exception as err:  # the module or gymnax itself missing
        progress.update(len(sizes))
        return {"name": "gymnax", "skipped": f"bench.gymnax_anchor unavailable: {_error(err)}"}
    if env not in GYMNAX_ANCHORS:
        progress.update(len(sizes))
        return {"name": "gymnax", "skipped": f"no gymnax counterpart of {env!r} (GYMNAX_ANCHORS: "
                                             f"{', '.join(sorted(GYMNAX_ANCHORS))})"}
    env_id = GYMNAX_ANCHORS[env]
    name = f"gymnax {env_id} (bench.gymnax_anchor.measure_gymnax)"
    progress.set_description(f"gymnax {env_id}")
    try:
        rows = [dict(r) for r in measure_gymnax(env_id, list(sizes), steps_per_call, repeats)]
        for r in rows:
            if not np.isfinite(r.get("steps_per_s", np.nan)):
                r["error"] = f"non-finite steps_per_s {r.get('steps_per_s')!r}"
                r.pop("steps_per_s", None)
        out = {"name": name, "rows": rows}
    except ImportError as err:  # gymnax itself missing (bench.gymnax_anchor imports it lazily)
        out = {"name": name, "skipped": _error(err)}
    except Exception as err:
        out = {"name": name, "error": _error(err)}
    progress.update(len(sizes))
    return out
