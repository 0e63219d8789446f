"""Behaviour cloning of a student policy from a teacher (DAgger-style).

    bc = make_behaviour_cloning(envs_by_name, student, teacher_act, teacher_obs_size, BCConfig())
    state = bc.init(key, student_params)
    state, metrics = jax.jit(bc.iteration, static_argnums=1)(state, 0)

One `iteration` collects a batch from one environment (`envs[env_index]`; callers cycle through
them), executing the teacher's action with probability `beta` and the student's otherwise, and
recording what the student saw and the teacher's action (the target); then it takes
`updates_per_iteration` Adam passes on the masked mean-squared action error. `beta` decays
geometrically per iteration, so the student soon visits its own states (DAgger).

By default a batch is `num_episodes` full episodes from fresh resets (`agents.evaluation`'s episode
loop) and the loss back-propagates through the student's whole episode (its recurrent state is
recomputed from the start); the paper trained its Ant sensory agent this way from an MLP. For a
feed-forward student (empty carry) two options turn it into per-step cloning, as the pixel agent
(`agents.sensory.pixel_train`) uses it: `segment_steps` (the environments auto-reset and run on
from iteration to iteration; each iteration records the next segment of that many steps) and
`minibatch_size` (each pass is one Adam step on steps drawn at random from the segment, with no
backpropagation through time). `student_view` lets the student see a randomized view of the
observation (the pixel agent's occlusion masks), and the teacher may read any function of the
state (the pixel teacher reads Pong's true state).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from simlab.agents.config_validation import NONNEGATIVE, POSITIVE, validate_config
from simlab.agents.evaluation import make_episode_rollout
from simlab.agents.policy import RecurrentPolicy, check_policy_fits
from simlab.agents.replay import ReplayBuffer, make_replay_buffer
from simlab.engine.env import Env, State
from simlab.engine.struct import pytree_dataclass
from simlab.engine.wrappers import unshuffled_observation, wrap_for_training


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """num_episodes per iteration; learning_rate (Adam); beta_init and beta_decay of the
    teacher-execution probability; updates_per_iteration gradient passes on each batch.
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
    updated once per iteration with this decay (Polyak averaging); 0: off.
    segment_steps: S > 0 lets the `num_episodes` environments auto-reset and run on across
    iterations (for a feed-forward student); each iteration records the next S steps of each,
    all of them live. 0: every iteration runs full episodes from fresh resets.
    minibatch_size: B > 0 (with segment_steps) makes the loss per step, without backpropagation
    through time: each pass is one Adam step on the mean error of B steps drawn uniformly (with
    replacement) from its batch, and `bc_loss` is the mean over the passes. 0: whole batches."""

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
    minibatch_size: int = 0
    segment_steps: int = 0

    def __post_init__(self):
        validate_config(self, {"learning_rate": POSITIVE, "grad_clip": POSITIVE, "lr_end": NONNEGATIVE,
                               "minibatch_size": NONNEGATIVE, "segment_steps": NONNEGATIVE})
        if self.num_episodes < 1 or self.updates_per_iteration < 1:
            raise ValueError("num_episodes and updates_per_iteration must be >= 1")
        if self.bptt_window < 0 or self.lr_decay_steps < 1:
            raise ValueError("bptt_window must be >= 0 and lr_decay_steps >= 1")
        if self.minibatch_size and (self.bptt_window or not self.segment_steps):
            raise ValueError("minibatch_size (a per-step loss) needs segment_steps > 0 (batches of live steps) "
                             "and excludes bptt_window")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must lie in [0, 1), got {self.ema!r}")
        if self.aggregate < 0:
            raise ValueError(f"aggregate must be >= 0 (batches kept per environment), got {self.aggregate}")
        if not self.teacher_noise >= 0.0:
            raise ValueError(f"teacher_noise must be a number >= 0, got {self.teacher_noise!r}")
        if not all(0.0 <= b <= 1.0 for b in (self.beta_init, self.beta_decay, self.beta_min)):
            raise ValueError("beta_init, beta_decay and beta_min must lie in [0, 1]")


@pytree_dataclass
class Demonstrations:
    """One batch, time-major: every field is `[T, n, ...]` (T steps of n environments)."""

    obs: Any              # what the student saw (the observation, or `student_view`'s output)
    targets: jax.Array    # [T, n, A] the teacher's action on the clean observation
    alive: jax.Array      # [T, n] bool: the step lies before its episode's end
    executed: jax.Array   # [T, n, A] the action executed in the environment
    rewards: jax.Array    # [T, n] the reward that followed (0 after the episode's end)


@pytree_dataclass
class BCState:
    params: Any
    opt_state: Any
    key: jax.Array
    iteration: jax.Array
    # Per environment, a ring (`agents.replay`) of its last K `Demonstrations` when `aggregate = K > 0`;
    # an empty tuple otherwise.
    replay: Any = ()
    # The moving average of `params` when `ema > 0` (the student to deploy); an empty tuple otherwise.
    average: Any = ()
    # Per environment, its running batched state when `segment_steps > 0`; an empty tuple otherwise.
    env_states: Any = ()


@dataclasses.dataclass(frozen=True)
class BehaviourCloning:
    """Build with `make_behaviour_cloning`."""

    config: BCConfig
    envs: tuple[Env, ...]
    student: RecurrentPolicy
    teacher_act: Callable[[jax.Array], jax.Array]
    teacher_observation: Callable[[State], jax.Array]
    optimizer: optax.GradientTransformation
    student_view: Callable[[jax.Array, Any], Any] | None = None
    buffers: tuple[ReplayBuffer, ...] = ()  # one per environment when `aggregate > 0`

    def init(self, key: jax.Array, student_params) -> BCState:
        env_states = ()
        if self.config.segment_steps:  # the environments run on from here
            *reset_keys, key = jax.random.split(key, len(self.envs) + 1)
            env_states = tuple(self._running(env).reset(k) for env, k in zip(self.envs, reset_keys))
        return BCState(params=student_params, opt_state=self.optimizer.init(student_params), key=key,
                       iteration=jnp.zeros((), jnp.int32), replay=tuple(b.init() for b in self.buffers),
                       average=student_params if self.config.ema else (), env_states=env_states)

    def _running(self, env: Env) -> Env:
        """`env` batched over `num_episodes` and auto-resetting, for `segment_steps`."""
        return wrap_for_training(env, self.config.num_episodes, None, auto_reset="fresh")

    def _act(self, params, beta):
        """The collection step `act(carry, state, alive, key) -> (carry, executed, Demonstrations record)`."""
        n = self.config.num_episodes
        student = jax.vmap(self.student.step, in_axes=(None, 0, 0))

        def act(carry, state, alive, step_key):
            target = jnp.clip(self.teacher_act(self.teacher_observation(state)), -1.0, 1.0)
            obs = state.obs
            if self.student_view is not None:  # static: resolved at trace time
                view_key, step_key = jax.random.split(step_key)
                obs = self.student_view(view_key, obs)
            carry, student_action = student(params, carry, obs)
            use_teacher = jax.random.uniform(step_key, (n, 1)) < beta
            noisy = target
            if self.config.teacher_noise > 0:  # static
                noise = jax.random.normal(jax.random.fold_in(step_key, 1), target.shape)
                noisy = jnp.clip(target + self.config.teacher_noise * noise, -1.0, 1.0)
            executed = jnp.where(use_teacher, noisy, student_action)
            record = Demonstrations(obs, jax.lax.stop_gradient(target), alive, jax.lax.stop_gradient(executed), ())
            return self._observe(carry, executed), executed, record

        return act

    def _collect(self, env: Env, params, beta, key) -> Demonstrations:
        """`num_episodes` full episodes of `env` from fresh resets (keys from `key`)."""
        reset_key, mix_key = jax.random.split(key)
        carry = self.student.initial_carries(env.observation_size, self.config.num_episodes)
        _, batch, rewards = make_episode_rollout(env, self.config.num_episodes)(self._act(params, beta), carry,
                                                                                reset_key, mix_key)
        return batch.replace(rewards=rewards)

    def _continue(self, env: Env, env_state: State, params, beta, key) -> tuple[State, Demonstrations]:
        """The next `segment_steps` steps of the running environments (a feed-forward student: no carry)."""
        running, act = self._running(env), self._act(params, beta)
        alive = jnp.ones(self.config.num_episodes, jnp.bool_)  # auto-reset: every step is a labelled step
        carry = self.student.initial_carries(env.observation_size, self.config.num_episodes)

        def body(state, step_key):
            _, executed, record = act(carry, state, alive, step_key)
            state = running.step(state, executed)
            return state, record.replace(rewards=state.reward)

        return jax.lax.scan(body, env_state, jax.random.split(key, self.config.segment_steps))

    def _observe(self, carry, executed):
        """The carry with `executed [n, A]` as the previous action, if `feed_executed_action`."""
        if not self.config.feed_executed_action or self.student.observe_action is None:
            return carry
        return jax.vmap(self.student.observe_action)(carry, executed)

    def _loss(self, params, batch: Demonstrations):
        """The masked mean-squared action error of the student run over `batch` from fresh carries."""
        num_inputs = jax.tree_util.tree_leaves(batch.obs)[0].shape[-1]
        carry = self.student.initial_carries(num_inputs, batch.alive.shape[1])
        return self._window_loss(params, carry, batch)[0]

    def _window_loss(self, params, carry, batch: Demonstrations):
        """`(loss, carry_out)` of the student run from `carry` over a window `batch` of `[W, n, ...]`."""
        act = jax.vmap(self.student.step, in_axes=(None, 0, 0))

        def body(carry, inputs):
            obs_t, executed_t = inputs
            carry, action = act(params, carry, obs_t)
            return self._observe(carry, executed_t), action

        carry, actions = jax.lax.scan(body, carry, (batch.obs, batch.executed))
        err = jnp.sum((actions - batch.targets) ** 2, axis=-1) * batch.alive
        return jnp.sum(err) / jnp.maximum(jnp.sum(batch.alive), 1.0), carry

    def _step_loss(self, params, steps: Demonstrations):
        """The mean-squared action error of a feed-forward student on single `steps` (leaves `[B, ...]`), all live."""
        num_inputs = jax.tree_util.tree_leaves(steps.obs)[0].shape[-1]
        carry = self.student.initial_carries(num_inputs, steps.alive.shape[0])
        _, actions = jax.vmap(self.student.step, in_axes=(None, 0, 0))(params, carry, steps.obs)
        return jnp.mean(jnp.sum((actions - steps.targets) ** 2, axis=-1))

    def _fit(self, params, opt_state, batch: Demonstrations, key):
        """One pass over `batch`: `(params, opt_state, loss)`; `key` draws the minibatch (`minibatch_size`)."""
        if self.config.bptt_window > 0:
            return self._truncated_updates(params, opt_state, batch)
        if self.config.minibatch_size:  # B single steps drawn from the T x n of the batch
            size = batch.alive.size
            index = jax.random.randint(key, (self.config.minibatch_size,), 0, size)
            steps = jax.tree_util.tree_map(lambda x: x.reshape((size,) + x.shape[2:])[index], batch)
            loss, grads = jax.value_and_grad(self._step_loss)(params, steps)
        else:
            loss, grads = jax.value_and_grad(self._loss)(params, batch)
        updates, opt_state = self.optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def _truncated_updates(self, params, opt_state, batch: Demonstrations):
        """One pass over the batch, one Adam step per window of `bptt_window` steps."""
        window = self.config.bptt_window
        horizon, n = batch.alive.shape
        num_windows = -(-horizon // window)
        pad = num_windows * window - horizon

        def split(x):
            x = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)]) if pad else x
            return x.reshape((num_windows, window) + x.shape[1:])

        windows = jax.tree_util.tree_map(split, batch)
        grad_fn = jax.value_and_grad(self._window_loss, has_aux=True)

        def window_step(loop, window_batch):
            params, opt_state, carry = loop
            (loss, carry_out), grads = grad_fn(params, carry, window_batch)
            updates, new_opt_state = self.optimizer.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            count = jnp.sum(window_batch.alive)
            keep = count > 0  # no step on windows where every episode has ended
            params, opt_state = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b),
                                                       (new_params, new_opt_state), (params, opt_state))
            return (params, opt_state, jax.lax.stop_gradient(carry_out)), (loss * count, count)

        num_inputs = jax.tree_util.tree_leaves(batch.obs)[0].shape[-1]
        carry = self.student.initial_carries(num_inputs, n)
        (params, opt_state, _), (sums, counts) = jax.lax.scan(window_step, (params, opt_state, carry), windows)
        return params, opt_state, jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1.0)

    def iteration(self, state: BCState, env_index: int = 0) -> tuple[BCState, dict]:
        """Collects one batch from `envs[env_index]` (static: jit with `static_argnums=1`) and fits it.

        metrics: `bc_loss`, `beta` and `reward_per_step`, the mean reward over the batch's `T x n` steps
        (rewards after an episode's end count 0: with whole episodes, the mean return divided by `T`).
        """
        if not 0 <= env_index < len(self.envs):
            raise ValueError(f"env_index must be in [0, {len(self.envs)}), got {env_index}")
        c = self.config
        if c.minibatch_size:  # the minibatches draw from a key of their own
            key, collect_key, fit_key = jax.random.split(state.key, 3)
        else:
            (key, collect_key), fit_key = jax.random.split(state.key), None
        beta = jnp.maximum(c.beta_min, c.beta_init * c.beta_decay ** state.iteration.astype(jnp.float32))
        env, env_states = self.envs[env_index], state.env_states
        if c.segment_steps:
            env_state, batch = self._continue(env, env_states[env_index], state.params, beta, collect_key)
            env_states = _replace_at(env_states, env_index, env_state)
        else:
            batch = self._collect(env, state.params, beta, collect_key)
        replay = state.replay
        if c.aggregate:
            buffer = self.buffers[env_index]
            ring = buffer.add(replay[env_index], jax.tree_util.tree_map(lambda x: x[None], batch))
            replay = _replace_at(replay, env_index, ring)
        pass_keys = None if fit_key is None else jax.random.split(fit_key, c.updates_per_iteration)

        def fit_pass(loop, inputs):
            params, opt_state = loop
            i, pass_key = inputs
            data = batch
            if c.aggregate:  # pass 0: the new batch (the ring's newest); later passes: a stored one at random
                valid = buffer.valid(ring)
                drawn = jax.random.choice(jax.random.fold_in(key, i), c.aggregate, p=valid / jnp.sum(valid))
                data = buffer.get(ring, jnp.where(i == 0, buffer.newest(ring), drawn))
            params, opt_state, loss = self._fit(params, opt_state, data, pass_key)
            return (params, opt_state), loss

        loop = (state.params, state.opt_state)
        if c.minibatch_size:  # many small steps: one compiled pass under a scan
            (params, opt_state), losses = jax.lax.scan(fit_pass, loop, (jnp.arange(c.updates_per_iteration),
                                                                        pass_keys))
        else:  # a few passes over whole batches, unrolled
            losses = []
            for i in range(c.updates_per_iteration):
                loop, loss = fit_pass(loop, (i, None))
                losses.append(loss)
            (params, opt_state), losses = loop, jnp.stack(losses)
        metrics = {"bc_loss": jnp.mean(losses) if c.minibatch_size else losses[-1], "beta": beta,
                   "reward_per_step": jnp.mean(batch.rewards)}
        average = state.average
        if c.ema:
            average = jax.tree_util.tree_map(lambda a, p: c.ema * a + (1.0 - c.ema) * p, average, params)
        return BCState(params=params, opt_state=opt_state, key=key, iteration=state.iteration + 1,
                       replay=replay, average=average, env_states=env_states), metrics


def _replace_at(items: tuple, index: int, value) -> tuple:
    return items[:index] + (value,) + items[index + 1:]


def make_behaviour_cloning(envs: Sequence[Env], student: RecurrentPolicy, teacher_act: Callable[[jax.Array], jax.Array],
                           teacher_obs_size: int | Callable[[State], jax.Array], config: BCConfig | None = None,
                           student_view: Callable[[jax.Array, Any], Any] | None = None) -> BehaviourCloning:
    """Builds DAgger-style behaviour cloning.

    Args:
      envs: unbatched environments the student sees (e.g. shuffled and noisy variants);
        iterations cycle through them. Each needs a time limit (for `segment_steps`, the
        time limit is where the running environments reset).
      student: the policy to train (its parameters are differentiable).
      teacher_act: `act(clean_obs [B, O]) -> action [B, A]` in [-1, 1].
      teacher_obs_size: size O of the clean observation the teacher reads (the inner
        environment's observation, recovered with `engine.wrappers.unshuffled_observation`),
        or a function `batched State -> [B, O]` giving what the teacher reads (e.g. the true
        state from `state.sim`).
      student_view: optional `view(key, obs [B, ...]) -> student input` applied to the
        observation at every step (e.g. random occlusion masks, a fresh draw per step); the
        student's `step` reads its output, which is what the batch records.
    """
    config = config or BCConfig()
    if not envs:
        raise ValueError("behaviour cloning needs at least one environment")
    for env in envs:
        check_policy_fits(env, student)
        if (config.minibatch_size or config.segment_steps) and not student.is_feed_forward(env.observation_size):
            raise ValueError(f"minibatch_size and segment_steps clone single steps: policy {student.name!r} "
                             "carries a recurrent state; clone it on whole episodes (both 0)")
    if config.feed_executed_action and student.observe_action is None:
        raise ValueError(f"feed_executed_action: policy {student.name!r} does not read its previous action; "
                         "drop the option for this student")
    teacher_observation = teacher_obs_size if callable(teacher_obs_size) else \
        functools.partial(unshuffled_observation, inner_size=int(teacher_obs_size))
    learning_rate = config.learning_rate if config.lr_end is None else optax.cosine_decay_schedule(
        config.learning_rate, config.lr_decay_steps, alpha=config.lr_end / config.learning_rate)
    optimizer = optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(learning_rate))
    bc = BehaviourCloning(config, tuple(envs), student, teacher_act, teacher_observation, optimizer, student_view)
    if config.aggregate:  # a ring per environment (their batches differ in shape), shaped by a traced collection
        bc = dataclasses.replace(bc, buffers=tuple(make_replay_buffer(config.aggregate, _batch_shape(bc, i))
                                                   for i in range(len(bc.envs))))
    return bc


def _batch_shape(bc: BehaviourCloning, env_index: int) -> Demonstrations:
    """The shapes (`jax.ShapeDtypeStruct`s) of a batch `bc` collects from `envs[env_index]`."""
    env = bc.envs[env_index]

    def collect(key):
        params = bc.student.init(key, env.observation_size)
        if bc.config.segment_steps:
            return bc._continue(env, bc._running(env).reset(key), params, 1.0, key)[1]
        return bc._collect(env, params, 1.0, key)

    return jax.eval_shape(collect, jax.random.key(0))
