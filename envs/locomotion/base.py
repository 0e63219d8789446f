"""Shared plumbing of the MJCF locomotion tasks: model lookup, specs, physics stepping, reset noise.

Each task (`ant`, `halfcheetah`, `humanoid`, `hopper`, `walker2d`, `reacher`) subclasses
`MjcfTask`, which loads a model shipped with an installed package through
`engine.physics.load_mjcf`, exposes the model path as `mjcf_path` (for renderers)
and keeps `State.sim` = the `engine.physics.State` (so `state.sim.q` is MuJoCo's qpos).
"""
from __future__ import annotations

import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import physics
from simlab.engine.env import Env
from simlab.engine.specs import BoxSpec
from simlab.envs.mjrender import MujocoRenderMixin  # render_rgb(state) from mjcf_path and state.sim.q

FREE_JOINT = 0  # MuJoCo's mjJNT_FREE
# Newton iterations of solver="mujoco": MuJoCo C needs at most 6 on these tasks (docs/physics.md).
MUJOCO_ITERATIONS = 6


def asset_path(package: str, filename: str) -> str:
    """Path of a model file shipped with an installed package.

    Args:
      package: "gymnasium" (gymnasium/envs/mujoco/assets) or "brax" (brax/envs/assets).
      filename: e.g. "ant.xml".

    Raises:
      ValueError: unknown package; FileNotFoundError: package or file missing.
    """
    folders = {"gymnasium": ("envs", "mujoco", "assets"), "brax": ("envs", "assets")}
    if package not in folders:
        raise ValueError(f"models are looked up in {sorted(folders)}, got {package!r}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed; `pip install {package}` provides {filename}")
    path = os.path.join(list(spec.submodule_search_locations)[0], *folders[package], filename)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{filename} not found in the installed {package} ({path}); "
                                f"check the {package} version")
    return path


def model_path(package: str, xml_file: str) -> str:
    """`xml_file` itself if it names a directory (a user's model), else `asset_path(package, xml_file)`."""
    return xml_file if os.path.dirname(xml_file) else asset_path(package, xml_file)


def check_range(name: str, value, allow_infinite: bool = True) -> tuple[float, float]:
    """Validates a `(low, high)` option and returns it as floats; raises ValueError naming `name`."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {value!r}") from None
    if np.isnan(low) or np.isnan(high) or low > high:
        raise ValueError(f"{name} must satisfy low <= high, got {value!r}")
    if not allow_infinite and not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return low, high


def check_nonnegative(**values: float) -> None:
    """Raises ValueError for a negative or non-finite weight/scale option."""
    for name, value in values.items():
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def zero_metrics(*names: str) -> dict[str, jax.Array]:
    """`{name: 0.0}` for every metric name, so reset and step states share one structure."""
    return {name: jnp.zeros((), jnp.float32) for name in names}


def xy_position_metrics(q: jax.Array) -> dict[str, jax.Array]:
    """`x_position`, `y_position`, `distance_from_origin` of a free-floating root (`q[0:2]`), as v5's info."""
    return {"x_position": q[0], "y_position": q[1], "distance_from_origin": jnp.sqrt(q[0] ** 2 + q[1] ** 2)}


class MjcfTask(MujocoRenderMixin, Env):
    """Base of the MJCF tasks: one `engine.physics.System`, control dt = timestep × substeps.

    Attributes:
      sys: the `engine.physics.System` (numeric leaves can be replaced for domain randomization);
        `solver="mujoco"` loads it with MuJoCo's constraint model and integrator.
      mjcf_path: the model file it was built from.
      dt: seconds per `step` (= MuJoCo timestep × gymnasium's frame_skip).

    Subclasses set `self._observation_size` (int) and implement `reset`/`step`.
    """

    default_episode_length = 1000
    @property
    def vmap_chunk(self) -> int | None:
        """`VmapWrapper` steps batches in chunks of this many environments (`physics.batch_chunk`)."""
        return physics.batch_chunk(self.sys)

    def __init__(self, mjcf_path: str, substeps: int, solver: str = "penalty"):
        if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
            raise ValueError(f"frame_skip (substeps per control step) must be a positive integer, got {substeps!r}")
        if solver not in ("penalty", "mujoco"):
            raise ValueError(f"solver must be 'penalty' (fast soft contacts) or 'mujoco' (MuJoCo's constraint "
                             f"model and integrator), got {solver!r}")
        self.mjcf_path = mjcf_path
        self.sys = physics.load_mjcf(mjcf_path, substeps=int(substeps), solver=solver,
                                     iterations=MUJOCO_ITERATIONS)
        # the shortest decimal of the float32 timestep: 0.01, not 0.009999999776 (dt = 0.05 as gymnasium's)
        self.dt = float(np.format_float_positional(np.float32(self.sys.timestep))) * int(substeps)
        ctrl_range = np.asarray(self.sys.act_ctrlrange, np.float32)
        self._ctrl_low, self._ctrl_high = ctrl_range[:, 0], ctrl_range[:, 1]
        tree = self.sys.tree
        self._free_quat_index = tuple(int(tree.jnt_qadr[j]) + 3 for j, t in enumerate(tree.jnt_type)
                                      if t == FREE_JOINT)
        self._qpos0 = np.asarray(self.sys.qpos0, np.float32)

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec(shape=(self._observation_size,), low=-np.inf, high=np.inf)

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec(shape=(self.sys.nu,), low=self._ctrl_low, high=self._ctrl_high)

    def advance(self, sim: physics.State, action: jax.Array) -> physics.State:
        """One control step: `action` `[nu]` clamped to ctrlrange (as MuJoCo does), `substeps` substeps."""
        ctrl = jnp.clip(action.astype(jnp.float32), self._ctrl_low, self._ctrl_high)
        return physics.step(self.sys, sim, ctrl)

    def noisy_init(self, key: jax.Array, scale: float, velocity_noise: str = "uniform") -> physics.State:
        """Physics state at `qpos0 + U(-scale, scale)` and zero velocity plus noise.

        `velocity_noise`: "uniform" (U(-scale, scale), hopper/walker2d/humanoid) or
        "normal" (scale · N(0, 1), ant/halfcheetah). Free-joint quaternions are renormalized
        (MuJoCo normalizes them internally; gymnasium's reset observation shows them raw).
        """
        qpos_key, qvel_key = jax.random.split(key)
        q = self._qpos0 + jax.random.uniform(qpos_key, (self.sys.nq,), jnp.float32, -scale, scale)
        if velocity_noise == "uniform":
            qd = jax.random.uniform(qvel_key, (self.sys.nv,), jnp.float32, -scale, scale)
        elif velocity_noise == "normal":
            qd = scale * jax.random.normal(qvel_key, (self.sys.nv,), jnp.float32)
        else:
            raise ValueError(f"velocity_noise must be 'uniform' or 'normal', got {velocity_noise!r}")
        return physics.init(self.sys, self.normalize_quaternions(q), qd)

    def normalize_quaternions(self, q: jax.Array) -> jax.Array:
        """`q` `[nq]` with every free-joint quaternion scaled to unit length."""
        for start in self._free_quat_index:
            quat = q[start:start + 4]
            q = q.at[start:start + 4].set(quat / jnp.sqrt(jnp.sum(quat * quat)))
        return q

    def control_cost(self, action: jax.Array, weight: float) -> jax.Array:
        """`weight · Σ action²` on the action as given (gymnasium does not clamp it here)."""
        action = action.astype(jnp.float32)
        return weight * jnp.sum(action * action)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({os.path.basename(self.mjcf_path)}, dt={self.dt:g})"
