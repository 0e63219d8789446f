"""Behaviour cloning of the pixel sensory agent from a teacher that reads the true state.

    bc = make_pixel_bc(base_env, teacher_act, PixelBCConfig(), PixelConfig())
    state = bc.init(key, params)
    state, metrics = jax.jit(bc.iteration)(state)

The student sees shuffled patches `[N, D]` (`envs.patch_transforms`); at every
step each environment shows a random subset of them (a fraction drawn from
U(shown_min, shown_max), applied as a mask, which the layer treats exactly as
removing the patches). The teacher reads `teacher_observation(state)`
(for Pong, the `[6]` true state from `state.sim`).

One `iteration` (DAgger): continue `num_envs` episodes (auto-reset) for
`segment_steps` steps, executing the teacher's action with probability `beta`
and the student's otherwise, label every step with the teacher's action, then
take `updates` Adam steps on random minibatches of those steps (mean squared
action error). `beta` decays geometrically per iteration. The policy has no
recurrent state, so the loss is per step (no back-propagation through time).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from simlab.agents.sensory.pixel import PixelConfig, make_pixel_apply
from simlab.engine.env import Env, State
from simlab.engine.struct import pytree_dataclass
from simlab.engine.wrappers import wrap_for_training


@dataclasses.dataclass(frozen=True)
class PixelBCConfig:
    """num_envs x segment_steps labelled steps per iteration; updates minibatches of batch_size."""

    num_envs: int = 64
    segment_steps: int = 64
    episode_length: int = 1000
    batch_size: int = 512
    updates: int = 8
    learning_rate: float = 1e-3
    beta_init: float = 1.0
    beta_decay: float = 0.98
    shown_min: float = 0.3
    shown_max: float = 0.7
    grad_clip: float = 1.0

    def __post_init__(self):
        if min(self.num_envs, self.segment_steps, self.episode_length, self.batch_size, self.updates) < 1:
            raise ValueError("num_envs, segment_steps, episode_length, batch_size and updates must be >= 1")
        if not 0.0 < self.shown_min <= self.shown_max <= 1.0:
            raise ValueError(f"need 0 < shown_min <= shown_max <= 1, got {self.shown_min}, {self.shown_max}")
        if not 0.0 <= self.beta_init <= 1.0 or not 0.0 <= self.beta_decay <= 1.0:
            raise ValueError("beta_init and beta_decay must lie in [0, 1]")


@pytree_dataclass
class PixelBCState:
    params: Any
    opt_state: Any
    env_state: State
    key: jax.Array
    iteration: jax.Array


def random_masks(key: jax.Array, batch: int, num_patches: int, low: float, high: float) -> jax.Array:
    """`[batch, num_patches]` bool: row b shows `round(f_b N)` (at least 1) random patches, f_b ~ U(low, high)."""
    fraction_key, order_key = jax.random.split(key)
    fractions = jax.random.uniform(fraction_key, (batch, 1), minval=low, maxval=high)
    shown = jnp.maximum(jnp.round(fractions * num_patches), 1.0)
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(order_key, (batch, num_patches)), axis=1), axis=1)
    return ranks < shown


@dataclasses.dataclass(frozen=True)
class PixelBehaviourCloning:
    """Build with `make_pixel_bc`."""

    config: PixelBCConfig
    pixel_config: PixelConfig
    env: Env
    teacher_observation: Callable[[State], jax.Array]
    teacher_act: Callable[[jax.Array], jax.Array]
    optimizer: optax.GradientTransformation

    def init(self, key: jax.Array, params) -> PixelBCState:
        env_key, key = jax.random.split(key)
        return PixelBCState(params=params, opt_state=self.optimizer.init(params), env_state=self.env.reset(env_key),
                            key=key, iteration=jnp.zeros((), jnp.int32))

    def _loss(self, params, obs, masks, targets):
        actions = jax.vmap(make_pixel_apply(self.pixel_config), in_axes=(None, 0, 0))(params, obs, masks)
        return jnp.mean(jnp.sum((actions - targets) ** 2, axis=-1))

    def iteration(self, state: PixelBCState) -> tuple[PixelBCState, dict]:
        c = self.config
        apply = jax.vmap(make_pixel_apply(self.pixel_config), in_axes=(None, 0, 0))
        beta = c.beta_init * c.beta_decay ** state.iteration.astype(jnp.float32)
        key, roll_key, fit_key = jax.random.split(state.key, 3)
        num_patches = self.env.observation_spec.shape[0]

        def body(env_state, step_key):
            mask_key, mix_key = jax.random.split(step_key)
            masks = random_masks(mask_key, c.num_envs, num_patches, c.shown_min, c.shown_max)
            target = jnp.clip(self.teacher_act(self.teacher_observation(env_state)), -1.0, 1.0)
            student = apply(state.params, env_state.obs, masks)
            executed = jnp.where(jax.random.uniform(mix_key, (c.num_envs, 1)) < beta, target, student)
            next_state = self.env.step(env_state, executed)
            return next_state, (env_state.obs, masks, target, next_state.reward)

        env_state, (obs, masks, targets, rewards) = jax.lax.scan(
            body, state.env_state, jax.random.split(roll_key, c.segment_steps))
        flat = jax.tree_util.tree_map(lambda x: x.reshape((-1,) + x.shape[2:]), (obs, masks, targets))

        def update(carry, batch_key):
            params, opt_state = carry
            index = jax.random.randint(batch_key, (c.batch_size,), 0, flat[0].shape[0])
            loss, grads = jax.value_and_grad(self._loss)(params, *(x[index] for x in flat))
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(update, (state.params, state.opt_state),
                                                   jax.random.split(fit_key, c.updates))
        metrics = {"bc_loss": jnp.mean(losses), "beta": beta,
                   "score_per_1000_steps": 1000.0 * jnp.mean(rewards)}
        return PixelBCState(params=params, opt_state=opt_state, env_state=env_state, key=key,
                            iteration=state.iteration + 1), metrics


def make_pixel_bc(patch_env: Env, teacher_observation: Callable[[State], jax.Array],
                  teacher_act: Callable[[jax.Array], jax.Array], config: PixelBCConfig | None = None,
                  pixel_config: PixelConfig | None = None) -> PixelBehaviourCloning:
    """Builds pixel behaviour cloning.

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
                         f"{spec.shape}; wrap it with envs.patch_transforms.PatchObservation "
                         f"(patch size {pixel_config.patch_size}, {pixel_config.num_frames} frames)")
    env = wrap_for_training(patch_env, config.num_envs, config.episode_length, auto_reset="fresh")
    optimizer = optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(config.learning_rate))
    return PixelBehaviourCloning(config, pixel_config, env, teacher_observation, teacher_act, optimizer)
