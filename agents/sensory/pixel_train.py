"""Behaviour cloning of the pixel sensory agent from a teacher that reads the true state.

    bc = make_pixel_bc(patch_env, teacher_observation, teacher_act, PixelBCConfig(), PixelConfig())
    state = bc.init(key, params)
    state, metrics = jax.jit(bc.iteration)(state)

This is `agents.bc`'s DAgger with per-step cloning (`PixelBCConfig` is a `BCConfig`): each
iteration continues `num_episodes` auto-resetting episodes for `segment_steps` steps, executing
the teacher's action with probability `beta` (decaying geometrically) and the student's
otherwise, labels every step with the teacher's action, then takes `updates_per_iteration` Adam
steps on minibatches of `minibatch_size` steps (mean squared action error). The policy has no
recurrent state, so the loss is per step (no back-propagation through time).

What is pixel-specific lives here: the student sees shuffled patches `[N, D]`
(`engine.wrappers.patches`), and at every step each environment shows a random subset of them
(a fraction drawn from U(shown_min, shown_max), applied as a mask, which the layer treats
exactly as removing the patches); the teacher reads `teacher_observation(state)` (for Pong,
the `[6]` true state from `state.sim`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from simlab.agents.bc.dagger import BCConfig, BehaviourCloning, make_behaviour_cloning
from simlab.agents.policy import RecurrentPolicy
from simlab.agents.sensory.pixel import PixelConfig, make_pixel_apply, make_pixel_policy
from simlab.engine.env import Env, State
from simlab.engine.wrappers import TimeLimit


@dataclasses.dataclass(frozen=True)
class PixelBCConfig(BCConfig):
    """`BCConfig` with the pixel defaults (num_episodes x segment_steps labelled steps per iteration,
    updates_per_iteration minibatches of minibatch_size), plus episode_length (where the running
    episodes reset) and the range [shown_min, shown_max] of the fraction of patches shown."""

    num_episodes: int = 64
    learning_rate: float = 1e-3
    beta_decay: float = 0.98
    updates_per_iteration: int = 8
    minibatch_size: int = 512
    segment_steps: int = 64
    episode_length: int = 1000
    shown_min: float = 0.3
    shown_max: float = 0.7

    def __post_init__(self):
        super().__post_init__()
        if min(self.segment_steps, self.episode_length, self.minibatch_size) < 1:
            raise ValueError("segment_steps, episode_length and minibatch_size must be >= 1")
        if not 0.0 < self.shown_min <= self.shown_max <= 1.0:
            raise ValueError(f"need 0 < shown_min <= shown_max <= 1, got {self.shown_min}, {self.shown_max}")


def random_masks(key: jax.Array, batch: int, num_patches: int, low: float, high: float) -> jax.Array:
    """`[batch, num_patches]` bool: row b shows `round(f_b N)` (at least 1) random patches, f_b ~ U(low, high)."""
    fraction_key, order_key = jax.random.split(key)
    fractions = jax.random.uniform(fraction_key, (batch, 1), minval=low, maxval=high)
    shown = jnp.maximum(jnp.round(fractions * num_patches), 1.0)
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(order_key, (batch, num_patches)), axis=1), axis=1)
    return ranks < shown


def masked_pixel_policy(pixel_config: PixelConfig) -> RecurrentPolicy:
    """The pixel policy reading `(patches [N, D], mask [N] bool)`: the student of pixel cloning."""
    apply = make_pixel_apply(pixel_config)
    return dataclasses.replace(make_pixel_policy(pixel_config), name="sensory_pixel_masked",
                               step=lambda params, carry, view: (carry, apply(params, *view)))


def make_pixel_bc(patch_env: Env, teacher_observation: Callable[[State], jax.Array],
                  teacher_act: Callable[[jax.Array], jax.Array], config: PixelBCConfig | None = None,
                  pixel_config: PixelConfig | None = None) -> BehaviourCloning:
    """Builds pixel behaviour cloning: `agents.bc.make_behaviour_cloning` with random patch masks.

    Args:
      patch_env: unbatched environment without a time limit whose observation is
        patches `[N, D]` (e.g. `with_patch_transforms(envs.make("pong", episode_length=None), 4, shuffle=True)`).
      teacher_observation: batched `State -> [B, O]`, what the teacher reads.
      teacher_act: `[B, O] -> [B, A]` actions in [-1, 1].
    """
    config = config or PixelBCConfig()
    pixel_config = pixel_config or PixelConfig()
    spec = patch_env.observation_spec
    if len(spec.shape) != 2 or spec.shape[1] != pixel_config.patch_dim:
        raise ValueError(f"the student reads patches [N, {pixel_config.patch_dim}]; the environment observes "
                         f"{spec.shape}; wrap it with engine.wrappers.PatchObservation "
                         f"(patch size {pixel_config.patch_size}, {pixel_config.num_frames} frames)")

    def view(key, patches):  # a fresh random subset of the patches at every step, for every environment
        return patches, random_masks(key, config.num_episodes, spec.shape[0], config.shown_min, config.shown_max)

    return make_behaviour_cloning([TimeLimit(patch_env, config.episode_length)], masked_pixel_policy(pixel_config),
                                  teacher_act, teacher_observation, config, student_view=view)
