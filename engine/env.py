"""The functional environment protocol.

An `Env` is a pair of pure, jittable functions over an immutable `State`:

    state = env.reset(key)            # key: PRNG key, unbatched
    state = env.step(state, action)   # action: env.action_spec shape/dtype

Neither function branches on data; environments are written unbatched and
batched with `jax.vmap` (see `engine.wrappers.VmapWrapper`). Termination (the
MDP reached a terminal state: do not bootstrap) and truncation (the episode was
cut short, e.g. by a time limit: bootstrap from the final observation) are kept
in separate flags.
"""
from __future__ import annotations

import abc
from typing import Any

import jax
import jax.numpy as jnp

from simlab.engine.specs import BoxSpec, DiscreteSpec, Spec
from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class State:
    """Environment state, a pytree.

    Attributes (unbatched shapes; a batch adds a leading `[num_envs]` axis):
      sim: simulator state (any pytree; e.g. physics state or task variables).
      obs: observation, `observation_spec.shape`, float32.
      reward: scalar float32 reward of the last transition.
      terminated: scalar bool, the last transition reached a terminal state.
      truncated: scalar bool, the episode was cut short (time limit); never set
        together with `terminated` by our wrappers.
      metrics: dict of scalar float32 diagnostics (reward terms etc.).
      info: dict of extra arrays written by wrappers (step counter, final
        observation after an auto-reset, auto-reset key, ...).
    """

    sim: Any
    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    metrics: dict[str, jax.Array]
    info: dict[str, Any]

    @property
    def done(self) -> jax.Array:
        """`terminated | truncated`: the episode ended with this transition."""
        return jnp.logical_or(self.terminated, self.truncated)


def initial_state(sim: Any, obs: jax.Array, metrics: dict[str, jax.Array] | None = None) -> State:
    """A freshly reset `State`: zero reward, both flags False."""
    return State(
        sim=sim,
        obs=obs,
        reward=jnp.zeros((), jnp.float32),
        terminated=jnp.zeros((), jnp.bool_),
        truncated=jnp.zeros((), jnp.bool_),
        metrics=dict(metrics or {}),
        info={},
    )


class Env(abc.ABC):
    """Base class of all simlab environments (unbatched, pure, jittable).

    Subclasses implement `reset`, `step`, `observation_spec` and `action_spec`.
    Configuration is held in plain Python attributes fixed at construction, so
    structure is resolved at trace time.
    """

    #: Default episode length used by `envs.make` for the time limit (steps).
    default_episode_length: int | None = None
    #: Control period in seconds (one `step`), for documentation and rendering.
    dt: float = 0.0

    @abc.abstractmethod
    def reset(self, key: jax.Array) -> State:
        """Draw an initial state. `key`: a PRNG key (unbatched)."""

    @abc.abstractmethod
    def step(self, state: State, action: jax.Array) -> State:
        """Advance one control step. `action`: `action_spec.shape`."""

    @property
    @abc.abstractmethod
    def observation_spec(self) -> BoxSpec:
        """Shape, dtype and bounds of `State.obs`."""

    @property
    @abc.abstractmethod
    def action_spec(self) -> Spec:
        """Shape, dtype and bounds of the action."""

    @property
    def observation_size(self) -> int:
        """Number of observation elements (flattened)."""
        return self.observation_spec.size

    @property
    def action_size(self) -> int:
        """Number of action elements; for a discrete action, the number of choices."""
        spec = self.action_spec
        return spec.num_values if isinstance(spec, DiscreteSpec) else spec.size

    @property
    def unwrapped(self) -> "Env":
        """The innermost environment (itself, for an unwrapped one)."""
        return self

    @property
    def supports_rendering(self) -> bool:
        """Whether `render_rgb` is implemented by this environment."""
        return type(self.unwrapped).render_rgb is not Env.render_rgb

    def render_rgb(self, state: State, width: int = 320, height: int = 240):
        """An `[height, width, 3]` uint8 frame of an *unbatched* state (host NumPy).

        Environments that can be drawn override this.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement rendering; pick an environment "
            "whose render_rgb is defined (see `simlab envs`)."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
