"""The anchors of `bench/physics.py`, and the model and batch helpers both sides use.

Each function measures one anchor on the same MJCF model at the same 0.05 s control period and
returns rows `{num_envs, steps_per_s, compile_s, ...}` (or `{"error": ...}` when the anchor cannot
run on this machine: reported, never fatal):
  * `brax_sizes`: a Brax 0.14 pipeline (spring, positional, generalized, mjx) as shipped, or given
    our chunked, sharded batching;
  * `mjx_sizes`: MJX (`mujoco.mjx.step`) directly, under the settings Brax's mjx pipeline uses;
  * `envpool_sizes`: EnvPool's `Ant-v5`/`Humanoid-v5` (MuJoCo C in C++ threads);
  * `mujoco_gymnasium`: MuJoCo C through gymnasium, one process and 2 async workers.
"""
from __future__ import annotations

import importlib.resources
import os

import jax
import jax.numpy as jnp
import numpy as np

from bench import harness
from simlab.engine.batching import sharded_vmap

CONTROL_DT = 0.05
BRAX_PIPELINES = ("spring", "positional", "generalized", "mjx")
GYM_IDS = {"ant": "Ant-v5", "humanoid": "Humanoid-v5"}
DEFAULT_SIZES = "1,64,1024,4096,8192"
BRAX_BATCHED_CHUNK = 128


def brax_asset(env: str) -> str:
    """Path of brax's `envs/assets/<env>.xml` (the model of every column but `ours-mujoco-v5`/EnvPool)."""
    return os.fspath(importlib.resources.files("brax") / "envs" / "assets" / f"{env}.xml")


def steps_for(num_envs: int, override: int) -> int:
    """Control steps per timed call: `override` if > 0, else about 32k env steps (4-200 control steps)."""
    return override if override > 0 else int(np.clip(2 ** 15 // num_envs, 4, 200))


def mesh_for(num_envs: int, mesh):
    """The mesh if the batch splits evenly over it, else None (one device)."""
    return mesh if mesh is not None and num_envs % mesh.devices.size == 0 else None


def gym_asset(env: str) -> str:
    """Path of gymnasium's `envs/mujoco/assets/<env>.xml` (the model EnvPool's and gymnasium's v5 envs step)."""
    return os.fspath(importlib.resources.files("gymnasium") / "envs" / "mujoco" / "assets" / f"{env}.xml")


# What Brax 0.14's `Ant`/`Humanoid(backend="mjx")` set on the model (brax/envs/ant.py, humanoid.py): Newton, one
# iteration, 4 line-search iterations, no implicit Euler damping. Read from Brax when it is importable
# (`mjx_settings`), else these, so the MJX column means the same on a host without Brax.
BRAX_MJX_SETTINGS = {"iterations": 1, "ls_iterations": 4, "eulerdamp": False}


def mjx_settings(env: str) -> dict:
    """Solver settings of Brax's mjx pipeline for `env`: from Brax if importable, else `BRAX_MJX_SETTINGS`."""
    try:
        import mujoco
        from brax import envs as brax_envs

        opt = brax_envs.get_environment(env, backend="mjx").sys.opt
        return {"iterations": int(opt.iterations), "ls_iterations": int(opt.ls_iterations),
                "eulerdamp": not int(opt.disableflags) & int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)}
    except Exception:
        return dict(BRAX_MJX_SETTINGS)


def envpool_sizes(env: str, sizes, args, progress) -> list[dict] | dict:
    """EnvPool's `Ant-v5`/`Humanoid-v5` with one thread per core, uniform random actions."""
    try:
        import envpool
    except ImportError as err:
        progress.update(len(sizes))
        return {"error": f"{type(err).__name__}: {err} (pip install envpool)"}
    gym_id = GYM_IDS[env]
    threads = os.cpu_count() or 1
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        progress.set_description(f"envpool {gym_id} n={n}")
        try:
            timestep = 0.01 if env == "ant" else 0.003
            pool = envpool.make_gymnasium(gym_id, num_envs=n, batch_size=n, num_threads=min(threads, n), seed=0,
                                          frame_skip=int(round(CONTROL_DT / timestep)))
            frame_skip = int(pool.spec.config.frame_skip)
            pool.reset()
            low, high = pool.action_space.low, pool.action_space.high
            actions = rng.uniform(low, high, (8, n) + low.shape).astype(np.float32)
            calls = [0]

            def step(pool=pool, actions=actions, calls=calls):
                pool.step(actions[calls[0] % 8])
                calls[0] += 1

            row = harness.time_python_loop(step, n, 10 ** 7, args.mujoco_budget)
            row.update(threads=min(threads, n), frame_skip=frame_skip, gym_id=gym_id)
            rows.append(row)
            pool.close()
        except Exception as err:
            rows.append({"num_envs": n, "error": f"{type(err).__name__}: {err}"})
        progress.update(1)
    return rows


def brax_sizes(env: str, pipeline: str, sizes, args, progress, mesh=None, batched: bool = False) -> list[dict] | dict:
    try:
        from brax import envs as brax_envs

        probe = brax_envs.get_environment(env, backend=pipeline)
        n_frames = max(1, int(round(CONTROL_DT / float(probe.sys.opt.timestep))))
        benv = brax_envs.get_environment(env, backend=pipeline, n_frames=n_frames)
    except Exception as err:  # a pipeline that cannot even build is reported, not fatal
        progress.update(len(sizes))
        return {"error": f"{type(err).__name__}: {err}"}
    rows = []
    for n in sizes:
        progress.set_description(f"brax-{pipeline}{'-batched' if batched else ''} n={n}")
        steps = steps_for(n, args.steps)
        use = mesh_for(n, mesh)
        batched_step = sharded_vmap(benv.step, BRAX_BATCHED_CHUNK, use) if batched else jax.vmap(benv.step)
        try:
            state = jax.jit(jax.vmap(benv.reset))(jax.random.split(jax.random.PRNGKey(0), n))

            def rollout(state, key, n=n, steps=steps, batched_step=batched_step):
                def body(state, k):
                    action = jax.random.uniform(k, (n, benv.action_size), minval=-1.0, maxval=1.0)
                    return batched_step(state, action), None
                state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
                return state, jnp.sum(state.obs)

            row = harness.time_compiled(rollout, state, jax.random.PRNGKey(1), n, steps, args.repeats)
            row["dt"] = float(benv.dt)
            if batched:
                row.update(devices=1 if use is None else use.devices.size, chunk=BRAX_BATCHED_CHUNK)
            rows.append(row)
        except Exception as err:
            rows.append({"num_envs": n, "error": f"{type(err).__name__}: {err}"})
        progress.update(1)
    return rows


def mjx_sizes(env: str, sizes, args, progress) -> list[dict] | dict:
    """`mujoco.mjx.step` on brax's model, `n_frames` steps per 0.05 s control step, as Brax's mjx pipeline steps it."""
    try:
        import mujoco
        from mujoco import mjx

        m = mujoco.MjModel.from_xml_path(brax_asset(env))
        settings = mjx_settings(env)  # as Brax's mjx pipeline sets them
        m.opt.solver = int(mujoco.mjtSolver.mjSOL_NEWTON)
        m.opt.iterations, m.opt.ls_iterations = settings["iterations"], settings["ls_iterations"]
        if not settings["eulerdamp"]:
            m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)
        n_frames = max(1, int(round(CONTROL_DT / float(m.opt.timestep))))
        mx = mjx.put_model(m)
        d0 = mjx.make_data(mx)
    except Exception as err:  # MJX missing or the model unsupported: reported, not fatal
        progress.update(len(sizes))
        return {"error": f"{type(err).__name__}: {err}"}
    q0 = jnp.asarray(m.qpos0, jnp.float32)
    if env == "ant":  # the same start as ours
        q0 = q0.at[7:].set(jnp.array([0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0]))

    def control_step(d, u):
        d = d.replace(ctrl=u)
        return jax.lax.scan(lambda d, _: (mjx.step(mx, d), None), d, None, length=n_frames)[0]

    rows = []
    for n in sizes:
        progress.set_description(f"mjx n={n}")
        steps = steps_for(n, args.steps)
        try:
            state = jax.jit(jax.vmap(lambda k: d0.replace(qpos=q0, qvel=0.1 * jax.random.normal(k, (m.nv,)))))(
                jax.random.split(jax.random.PRNGKey(0), n))

            def rollout(state, key, n=n, steps=steps):
                def body(state, k):
                    ctrl = jax.random.uniform(k, (n, m.nu), minval=-1.0, maxval=1.0)
                    return jax.vmap(control_step)(state, ctrl), None
                state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
                return state, jnp.sum(state.qpos[:, 2])

            row = harness.time_compiled(rollout, state, jax.random.PRNGKey(1), n, steps, args.repeats)
            row.update(n_frames=n_frames, iterations=int(m.opt.iterations), ls_iterations=int(m.opt.ls_iterations))
            rows.append(row)
        except Exception as err:
            rows.append({"num_envs": n, "error": f"{type(err).__name__}: {err}"})
        progress.update(1)
    return rows


def mujoco_gymnasium(env: str, args, progress) -> dict:
    import gymnasium

    gym_id = GYM_IDS[env]
    timestep = 0.01 if env == "ant" else 0.003
    kwargs = {"frame_skip": int(round(CONTROL_DT / timestep))}
    out = {}
    progress.set_description(f"mujoco {gym_id} 1 process")
    single = gymnasium.make(gym_id, **kwargs)
    single.reset(seed=0)
    space = single.action_space
    space.seed(0)

    def step_single():
        *_, terminated, truncated, _ = single.step(space.sample())
        if terminated or truncated:
            single.reset()

    out["single"] = harness.time_python_loop(step_single, 1, 10 ** 7, args.mujoco_budget)
    single.close()
    progress.update(1)
    progress.set_description(f"mujoco {gym_id} async x2")
    vec = gymnasium.make_vec(gym_id, num_envs=2, vectorization_mode="async", **kwargs)
    vec.reset(seed=0)
    vspace = vec.action_space
    vspace.seed(0)
    out["async2"] = harness.time_python_loop(lambda: vec.step(vspace.sample()), 2, 10 ** 7, args.mujoco_budget)
    vec.close()
    progress.update(1)
    out["dt"] = kwargs["frame_skip"] * timestep
    return out
