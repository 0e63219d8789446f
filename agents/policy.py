"""The policy type shared by the population learners (ES), behaviour cloning and the sensory-neuron agents.

A `RecurrentPolicy` is a set of pure, unbatched functions over a carried state; a feed-forward policy
is one whose carry is empty (`feed_forward_policy`). It is the one policy type of simlab: every learner
deploys one as `learner.network` with parameters `learner.params(state)` (`agents.learner`). `check_policy_fits` is the boundary check every learner runs before
tracing: the policy must read the environment's observation and emit its action shape.
`make_mlp_policy` is the feed-forward tanh MLP that ES trains and the sensory agents compare against.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.actions import ActionScaler
from simlab.engine.env import Env


@dataclasses.dataclass(frozen=True)
class RecurrentPolicy:
    """A policy with carried state, as pure functions (unbatched over environments).

    init(key, num_inputs) -> params
    initial_carry(num_inputs) -> carry          (a fresh episode)
    step(params, carry, obs [N]) -> (carry, action [A])
    num_params(params) -> int
    fixed_num_inputs: None if any N is accepted, else the one accepted N.
    observe_action(carry, action [A]) -> carry: records the action that was actually
        executed (e.g. a teacher's during behaviour cloning) as the policy's previous
        action; None for policies that do not read their previous action.
    """

    name: str
    action_size: int
    fixed_num_inputs: int | None
    init: Callable[[jax.Array, int], Any]
    initial_carry: Callable[[int], Any]
    step: Callable[[Any, Any, jax.Array], tuple[Any, jax.Array]]
    observe_action: Callable[[Any, jax.Array], Any] | None = None

    @staticmethod
    def num_params(params) -> int:
        return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))

    def initial_carries(self, num_inputs: int, batch: int):
        """`batch` fresh carries, stacked on a leading axis (for a `vmap`ped `step`)."""
        return jax.vmap(lambda _: self.initial_carry(num_inputs))(jnp.arange(batch))

    def is_feed_forward(self, num_inputs: int) -> bool:
        """Whether the carry is empty: the action depends on the current observation only."""
        return not jax.tree_util.tree_leaves(self.initial_carry(num_inputs))


def feed_forward_policy(name: str, action_size: int, num_inputs: int, init: Callable[[jax.Array, int], Any],
                        act: Callable[[Any, jax.Array], jax.Array]) -> RecurrentPolicy:
    """The one policy type for a policy without memory: `act(params, obs [N]) -> action [A]` with an empty carry."""
    return RecurrentPolicy(name, action_size, num_inputs, init, lambda n: (),
                           lambda params, carry, obs: (carry, act(params, obs)))


def check_policy_fits(env: Env, policy: RecurrentPolicy) -> None:
    """Raises `ValueError` if `policy` cannot read `env`'s observations or emit its actions."""
    obs_size = env.observation_size
    if policy.fixed_num_inputs is not None and obs_size < policy.fixed_num_inputs:
        raise ValueError(f"policy {policy.name!r} reads {policy.fixed_num_inputs} inputs but the environment "
                         f"observes {obs_size}; build the policy for this environment")
    if env.action_spec.shape != (policy.action_size,):
        raise ValueError(f"policy {policy.name!r} emits {policy.action_size} actions, the environment wants "
                         f"shape {env.action_spec.shape}")


def make_mlp_policy(num_inputs: int, action_size: int = 1, hidden: tuple[int, ...] = (32, 16)) -> RecurrentPolicy:
    """A feed-forward tanh MLP baseline with a fixed input size (carry is an empty tuple).

    Given more than `num_inputs` elements it reads the first `num_inputs` (a fixed
    wiring cannot grow); given fewer it raises at trace time.
    """

    def forward(obs):
        x = obs
        for i, width in enumerate(hidden):
            x = jnp.tanh(hk.Linear(width, name=f"hidden_{i}")(x))
        return jnp.tanh(hk.Linear(action_size, name="out")(x))

    net = hk.without_apply_rng(hk.transform(forward))

    def init(key, n: int = num_inputs):
        return net.init(key, jnp.zeros((num_inputs,), jnp.float32))

    def step(params, carry, obs):
        if obs.shape[0] < num_inputs:
            raise ValueError(f"the MLP policy reads {num_inputs} inputs, got an observation of {obs.shape[0]}")
        return carry, net.apply(params, obs[:num_inputs])

    return RecurrentPolicy("mlp", action_size, num_inputs, init, lambda n: (), step)


def make_env_mlp_policy(env: Env, hidden: tuple[int, ...] = (32, 16)) -> RecurrentPolicy:
    """`make_mlp_policy` for `env` whose tanh output is mapped to the environment's action bounds (a box), so
    that its actions are in environment units like the PPO/SAC/APG policies'."""
    mlp = make_mlp_policy(env.observation_size, env.action_size, tuple(hidden))
    scaler = ActionScaler.for_spec(env.action_spec)

    def step(params, carry, obs):
        carry, action = mlp.step(params, carry, obs)
        return carry, scaler.to_env(action)

    return dataclasses.replace(mlp, step=step)
