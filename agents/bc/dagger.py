"""Behaviour cloning of a recurrent student from a teacher policy (DAgger-style).

    bc = make_behaviour_cloning(envs_by_name, student, teacher_act, teacher_obs_size, BCConfig())
    state = bc.init(key, student_params)
    state, metrics = jax.jit(bc.iteration, static_argnums=1)(state, 0)

One `iteration`: roll out `num_episodes` full episodes of one environment
(`envs[env_index]`; callers cycle through them), executing the teacher's action with probability
`beta` and the student's otherwise; record the student's observations and the
teacher's actions on the clean observation; then take `updates_per_iteration`
Adam steps on the masked mean-squared action error, back-propagating through
the student's whole episode (its recurrent state is recomputed from the start).
`beta` decays geometrically per iteration, so the student soon visits its own
states (DAgger). The paper trained its Ant sensory agent this way from an MLP.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from simlab.agents.config_validation import NONNEGATIVE, POSITIVE, validate_config
from simlab.agents.evaluation import episode_length_of
from simlab.agents.policy import RecurrentPolicy, check_policy_fits
from simlab.engine.env import Env
from simlab.engine.struct import pytree_dataclass
from simlab.engine.wrappers import VmapWrapper
from simlab.envs.transforms import unshuffled_observation


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """num_episodes per iteration; learning_rate (Adam); beta_init and beta_decay of the
    teacher-execution probability; updates_per_iteration gradient steps on each batch.
    bptt_window: 0 back-propagates through whole episodes; W > 0 cuts each pass over a
    batch into windows of W steps, one Adam step per window, the student's recurrent
    state carried from window to window without gradient (truncated BPTT).
    lr_end: if set, the learning rate decays by cosine from learning_rate to lr_end over
    lr_decay_steps Adam steps (None: constant, as before).
    feed_executed_action: the student's previous-action input a_{t-1} is the action executed
    in the environment (the teacher's on teacher steps), in collection and in the fit, as
    the paper's `[o_i, a_{t-1}]`; False feeds the student its own previous output.
    beta_min: floor of the teacher-execution probability (0: decays towards pure DAgger).
    teacher_noise: sd of Gaussian noise added to the teacher's *executed* action (clipped to
    [-1, 1]; the target stays clean), so teacher-driven episodes visit perturbed states (DART).
    aggregate: K > 0 keeps the last K batches of every environment (DAgger's aggregated data
    set, a ring buffer): the first of the `updates_per_iteration` passes fits the new batch,
    each further pass a batch drawn uniformly from the stored ones. 0: only the new batch.
    ema: if > 0, `BCState.average` keeps an exponential moving average of the parameters,
    updated once per iteration with this decay (Polyak averaging); 0: off."""

    num_episodes: int = 32
    learning_rate: float = 3e-3
    beta_init: float = 1.0
    beta_decay: float = 0.9
    updates_per_iteration: int = 4
    grad_clip: float = 1.0
    bptt_window: int = 0
    lr_end: float | None = None
    lr_decay_steps: int = 1
    feed_executed_action: bool = False
    beta_min: float = 0.0
    teacher_noise: float = 0.0
    aggregate: int = 0
    ema: float = 0.0

    def __post_init__(self):
        validate_config(self, {"learning_rate": POSITIVE, "grad_clip": POSITIVE, "lr_end": NONNEGATIVE})
        if self.num_episodes < 1 or self.updates_per_iteration < 1:
            raise ValueError("num_episodes and updates_per_iteration must be >= 1")
        if self.bptt_window < 0 or self.lr_decay_steps < 1:
            raise ValueError("bptt_window must be >= 0 and lr_decay_steps >= 1")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must lie in [0, 1), got {self.ema!r}")
        if self.aggregate < 0:
            raise ValueError(f"aggregate must be >= 0 (batches kept per environment), got {self.aggregate}")
        if not self.teacher_noise >= 0.0:
            raise ValueError(f"teacher_noise must be a number >= 0, got {self.teacher_noise!r}")
        if not all(0.0 <= b <= 1.0 for b in (self.beta_init, self.beta_decay, self.beta_min)):
            raise ValueError("beta_init, beta_decay and beta_min must lie in [0, 1]")


@pytree_dataclass
class BCState:
    params: Any
    opt_state: Any
    key: jax.Array
    iteration: jax.Array
    # Per environment (obs [K, T, n, N], targets [K, T, n, A], alive [K, T, n], executed [K, T, n, A],
    # filled [K]) when `aggregate = K > 0`; an empty tuple otherwise.
    replay: Any = ()
    # The moving average of `params` when `ema > 0` (the student to deploy); an empty tuple otherwise.
    average: Any = ()


@dataclasses.dataclass(frozen=True)
class BehaviourCloning:
    """Build with `make_behaviour_cloning`."""

    config: BCConfig
    envs: tuple[Env, ...]
    student: RecurrentPolicy
    teacher_act: Callable[[jax.Array], jax.Array]
    teacher_obs_size: int
    optimizer: optax.GradientTransformation

    def init(self, key: jax.Array, student_params) -> BCState:
        replay = tuple(self._empty_replay(env) for env in self.envs) if self.config.aggregate else ()
        return BCState(params=student_params, opt_state=self.optimizer.init(student_params), key=key,
                       iteration=jnp.zeros((), jnp.int32), replay=replay,
                       average=student_params if self.config.ema else ())

    def _empty_replay(self, env: Env):
        k, t, n, a = self.config.aggregate, episode_length_of(env), self.config.num_episodes, self.student.action_size
        return (jnp.zeros((k, t, n, env.observation_size), jnp.float32), jnp.zeros((k, t, n, a), jnp.float32),
                jnp.zeros((k, t, n), jnp.bool_), jnp.zeros((k, t, n, a), jnp.float32), jnp.zeros((k,), jnp.bool_))

    def _fit(self, params, opt_state, batch):
        """One pass over `batch`: `(params, opt_state, loss)`."""
        if self.config.bptt_window > 0:
            return self._truncated_updates(params, opt_state, *batch)
        loss, grads = jax.value_and_grad(self._loss)(params, *batch)
        updates, opt_state = self.optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def _collect(self, env: Env, params, beta, key):
        n = self.config.num_episodes
        batched = VmapWrapper(env, n)
        horizon = episode_length_of(env)
        num_inputs = env.observation_size
        reset_key, mix_key = jax.random.split(key)
        state = batched.reset(reset_key)
        carry = jax.vmap(lambda _: self.student.initial_carry(num_inputs))(jnp.arange(n))
        act = jax.vmap(self.student.step, in_axes=(None, 0, 0))

        def body(loop, step_key):
            state, carry, alive = loop
            target = jnp.clip(self.teacher_act(unshuffled_observation(state, self.teacher_obs_size)), -1.0, 1.0)
            carry, student_action = act(params, carry, state.obs)
            use_teacher = jax.random.uniform(step_key, (n, 1)) < beta
            noisy = target
            if self.config.teacher_noise > 0:  # static: resolved at trace time
                noise = jax.random.normal(jax.random.fold_in(step_key, 1), target.shape)
                noisy = jnp.clip(target + self.config.teacher_noise * noise, -1.0, 1.0)
            executed = jnp.where(use_teacher, noisy, student_action)
            carry = self._observe(carry, executed)
            record = (state.obs, target, alive, executed)
            state = batched.step(state, executed)
            alive = jnp.logical_and(alive, jnp.logical_not(state.done))
            return (state, carry, alive), record

        init = (state, carry, jnp.ones(n, jnp.bool_))
        _, (obs, targets, alive, executed) = jax.lax.scan(body, init, jax.random.split(mix_key, horizon))
        return obs, jax.lax.stop_gradient(targets), alive, jax.lax.stop_gradient(executed)

    def _observe(self, carry, executed):
        """The carry with `executed [n, A]` as the previous action, if `feed_executed_action`."""
        if not self.config.feed_executed_action or self.student.observe_action is None:
            return carry
        return jax.vmap(self.student.observe_action)(carry, executed)

    def _loss(self, params, obs, targets, alive, executed):
        num_inputs = obs.shape[-1]
        carry = jax.vmap(lambda _: self.student.initial_carry(num_inputs))(jnp.arange(obs.shape[1]))
        return self._window_loss(params, carry, obs, targets, alive, executed)[0]

    def _window_loss(self, params, carry, obs, targets, alive, executed):
        """`(loss, carry_out)` of the student run from `carry` over `obs [W, n, N]` (`executed [W, n, A]`)."""
        act = jax.vmap(self.student.step, in_axes=(None, 0, 0))

        def body(carry, inputs):
            obs_t, executed_t = inputs
            carry, action = act(params, carry, obs_t)
            return self._observe(carry, executed_t), action

        carry, actions = jax.lax.scan(body, carry, (obs, executed))
        err = jnp.sum((actions - targets) ** 2, axis=-1) * alive
        return jnp.sum(err) / jnp.maximum(jnp.sum(alive), 1.0), carry

    def _truncated_updates(self, params, opt_state, obs, targets, alive, executed):
        """One pass over the batch, one Adam step per window of `bptt_window` steps."""
        window = self.config.bptt_window
        horizon, n = obs.shape[0], obs.shape[1]
        num_windows = -(-horizon // window)
        pad = num_windows * window - horizon

        def split(x):
            x = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)]) if pad else x
            return x.reshape((num_windows, window) + x.shape[1:])

        windows = (split(obs), split(targets), split(alive), split(executed))
        grad_fn = jax.value_and_grad(self._window_loss, has_aux=True)

        def window_step(loop, batch):
            params, opt_state, carry = loop
            (loss, carry_out), grads = grad_fn(params, carry, *batch)
            updates, new_opt_state = self.optimizer.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            count = jnp.sum(batch[2])
            keep = count > 0  # no step on windows where every episode has ended
            params, opt_state = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b),
                                                       (new_params, new_opt_state), (params, opt_state))
            return (params, opt_state, jax.lax.stop_gradient(carry_out)), (loss * count, count)

        carry = jax.vmap(lambda _: self.student.initial_carry(obs.shape[-1]))(jnp.arange(n))
        (params, opt_state, _), (sums, counts) = jax.lax.scan(window_step, (params, opt_state, carry), windows)
        return params, opt_state, jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1.0)

    def iteration(self, state: BCState, env_index: int = 0) -> tuple[BCState, dict]:
        """Collects one batch from `envs[env_index]` (static: jit with `static_argnums=1`) and fits it."""
        if not 0 <= env_index < len(self.envs):
            raise ValueError(f"env_index must be in [0, {len(self.envs)}), got {env_index}")
        key, collect_key = jax.random.split(state.key)
        beta = jnp.maximum(self.config.beta_min,
                           self.config.beta_init * self.config.beta_decay ** state.iteration.astype(jnp.float32))
        batch = self._collect(self.envs[env_index], state.params, beta, collect_key)
        params, opt_state, replay = state.params, state.opt_state, state.replay
        params, opt_state, loss = self._fit(params, opt_state, batch)  # the first pass: the new batch
        if self.config.aggregate:
            slot = (state.iteration // len(self.envs)) % self.config.aggregate
            stored = replay[env_index]
            stored = tuple(buf.at[slot].set(x) for buf, x in zip(stored, batch)) + (stored[4].at[slot].set(True),)
            replay = replay[:env_index] + (stored,) + replay[env_index + 1:]
        for i in range(1, self.config.updates_per_iteration):
            if self.config.aggregate:
                filled = replay[env_index][4]
                pick = jax.random.choice(jax.random.fold_in(key, i), self.config.aggregate, p=filled / jnp.sum(filled))
                batch = tuple(buf[pick] for buf in replay[env_index][:4])
            params, opt_state, loss = self._fit(params, opt_state, batch)
        metrics = {"bc_loss": loss, "beta": beta}
        average = state.average
        if self.config.ema:
            average = jax.tree_util.tree_map(lambda a, p: self.config.ema * a + (1.0 - self.config.ema) * p,
                                             average, params)
        return BCState(params=params, opt_state=opt_state, key=key, iteration=state.iteration + 1,
                       replay=replay, average=average), metrics


def make_behaviour_cloning(envs: Sequence[Env], student: RecurrentPolicy, teacher_act: Callable[[jax.Array], jax.Array],
                           teacher_obs_size: int, config: BCConfig | None = None) -> BehaviourCloning:
    """Builds DAgger-style behaviour cloning.

    Args:
      envs: unbatched, time-limited environments the student sees (e.g. shuffled and
        noisy variants); iterations cycle through them.
      student: the policy to train (its parameters are differentiable).
      teacher_act: `act(clean_obs [B, teacher_obs_size]) -> action [B, A]` in [-1, 1].
      teacher_obs_size: size of the clean observation the teacher reads (the inner
        environment's observation, recovered with `envs.transforms.unshuffled_observation`).
    """
    config = config or BCConfig()
    if not envs:
        raise ValueError("behaviour cloning needs at least one environment")
    for env in envs:
        check_policy_fits(env, student)
    if config.feed_executed_action and student.observe_action is None:
        raise ValueError(f"feed_executed_action: policy {student.name!r} does not read its previous action; "
                         "drop the option for this student")
    learning_rate = config.learning_rate if config.lr_end is None else optax.cosine_decay_schedule(
        config.learning_rate, config.lr_decay_steps, alpha=config.lr_end / config.learning_rate)
    optimizer = optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(learning_rate))
    return BehaviourCloning(config, tuple(envs), student, teacher_act, int(teacher_obs_size), optimizer)
