"""Slate recommendation with a long-horizon trade-off, and a REINFORCE recommender.

The user model (an interest-evolution story of "chocolate vs kale" documents):
  * each step `num_candidates` documents arrive with quality `q ~ U(-1, 1)`
    and appeal (click-bait) `a = -0.8 q + N(0, 0.3^2)`;
  * the recommender shows a slate of `slate_size` of them (the top scores of
    its action `[num_candidates]`);
  * the user clicks slate item j with multinomial-logit probability on
    `appeal_weight * a_j`, against a no-click logit `1 - 2 s` that falls as
    the user's satisfaction `s` rises;
  * utility (the reward) is `click * (1 + s)`; satisfaction moves towards the
    quality consumed: `s <- memory * s + (1 - memory) * q_chosen` (a no-click
    counts as quality 0).
Click-bait wins the next click but erodes satisfaction, so the myopic policy
(show the most appealing documents) loses to one that invests in quality.

`train_reinforce` learns a linear Plackett-Luce slate policy on per-document
features with REINFORCE and a per-step batch-mean baseline.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from simlab.engine.distributions import PlackettLuce
from simlab.engine.struct import pytree_dataclass
from simlab.recsim import choice


@dataclasses.dataclass(frozen=True)
class SlateConfig:
    """Static sizes and coefficients of the slate model."""

    num_candidates: int = 10
    slate_size: int = 3
    appeal_weight: float = 3.0
    memory: float = 0.9
    horizon: int = 100

    def __post_init__(self):
        if not 1 <= self.slate_size <= self.num_candidates:
            raise ValueError(f"slate_size must be in [1, num_candidates={self.num_candidates}], "
                             f"got {self.slate_size}")
        if not 0.0 <= self.memory < 1.0:
            raise ValueError(f"memory must be in [0, 1), got {self.memory}")

    @property
    def observation_size(self) -> int:
        return 1 + 2 * self.num_candidates


@pytree_dataclass
class SlateState:
    """`satisfaction: []`, `quality, appeal: [num_candidates]` (the documents on offer), `key`."""

    satisfaction: jax.Array
    quality: jax.Array
    appeal: jax.Array
    key: jax.Array


def _candidates(config: SlateConfig, key):
    quality_key, noise_key = jax.random.split(key)
    quality = jax.random.uniform(quality_key, (config.num_candidates,), minval=-1.0, maxval=1.0)
    appeal = -0.8 * quality + 0.3 * jax.random.normal(noise_key, (config.num_candidates,))
    return quality, appeal


def reset(config: SlateConfig, key) -> SlateState:
    """A new user (satisfaction ~ U(-0.2, 0.2)) and the first documents."""
    user_key, doc_key, next_key = jax.random.split(key, 3)
    quality, appeal = _candidates(config, doc_key)
    return SlateState(jax.random.uniform(user_key, (), minval=-0.2, maxval=0.2), quality, appeal, next_key)


def observe(state: SlateState) -> jax.Array:
    """`[1 + 2 num_candidates]`: satisfaction, appeals, qualities."""
    return jnp.concatenate([state.satisfaction[None], state.appeal, state.quality])


def step(config: SlateConfig, state: SlateState, scores: jax.Array):
    """Show the top-`slate_size` documents by `scores: [num_candidates]`.

    Returns `(next_state, utility, clicked)`.
    """
    choice_key, doc_key, next_key = jax.random.split(state.key, 3)
    _, slate = jax.lax.top_k(scores, config.slate_size)
    click_model = choice.multinomial_logit(config.appeal_weight * state.appeal[slate],
                                           no_choice_logit=1.0 - 2.0 * state.satisfaction)
    picked = click_model.sample(choice_key)
    clicked = picked < config.slate_size
    quality = choice.chosen(state.quality[slate], picked, no_choice_fill=0.0)
    utility = clicked * (1.0 + state.satisfaction)
    satisfaction = config.memory * state.satisfaction + (1.0 - config.memory) * quality
    quality_next, appeal_next = _candidates(config, doc_key)
    return SlateState(satisfaction, quality_next, appeal_next, next_key), utility, clicked


# -- policies ---------------------------------------------------------------------------
def features(obs: jax.Array, num_candidates: int) -> jax.Array:
    """Per-document features `[num_candidates, 4]`: appeal, quality and both times satisfaction."""
    s, appeal, quality = obs[0], obs[1:1 + num_candidates], obs[1 + num_candidates:]
    return jnp.stack([appeal, quality, s * appeal, s * quality], axis=-1)


def linear_scores(weights, obs, num_candidates):
    """`[num_candidates]` scores `features @ weights` (`weights: [4]`)."""
    return features(obs, num_candidates) @ weights


def myopic_scores(obs, num_candidates):
    """The most appealing documents maximise the immediate click probability (and utility)."""
    return obs[1:1 + num_candidates]


def evaluate(config: SlateConfig, policy, key, num_episodes=512) -> jax.Array:
    """`[num_episodes]` cumulative utilities of `policy(obs, key) -> scores` over the horizon."""

    def episode(key):
        reset_key, run_key = jax.random.split(key)

        def body(state, k):
            next_state, utility, _ = step(config, state, policy(observe(state), k))
            return next_state, utility

        _, utilities = jax.lax.scan(body, reset(config, reset_key), jax.random.split(run_key, config.horizon))
        return jnp.sum(utilities)

    return jax.jit(jax.vmap(episode))(jax.random.split(key, num_episodes))


def train_reinforce(config: SlateConfig, key, num_iterations=150, batch_size=256, learning_rate=0.05):
    """REINFORCE with a per-step batch-mean baseline on a Plackett-Luce slate policy.

    The policy samples slates from `PlackettLuce(features @ weights)`; the
    env receives the Gumbel-perturbed scores whose top-k is that slate.
    Returns `(weights [4], history [num_iterations] mean episode utility)`.
    """
    n, k = config.num_candidates, config.slate_size
    optimizer = optax.adam(learning_rate)

    def rollout(weights, key):
        reset_key, run_key = jax.random.split(key)

        def body(state, step_key):
            obs = observe(state)
            logits = linear_scores(weights, obs, n)
            perturbed = logits + jax.random.gumbel(step_key, logits.shape)
            slate = jax.lax.top_k(perturbed, k)[1]
            log_prob = PlackettLuce(logits, slate_size=k).log_prob(slate)
            next_state, utility, _ = step(config, state, perturbed)
            return next_state, (log_prob, utility)

        _, (log_probs, utilities) = jax.lax.scan(body, reset(config, reset_key),
                                                 jax.random.split(run_key, config.horizon))
        return log_probs, utilities

    def surrogate(weights, key):
        keys = jax.random.split(key, batch_size)
        log_probs, utilities = jax.vmap(rollout, in_axes=(None, 0))(weights, keys)  # [B, T]
        to_go = jnp.cumsum(utilities[:, ::-1], axis=1)[:, ::-1]
        advantage = jax.lax.stop_gradient(to_go - jnp.mean(to_go, axis=0, keepdims=True))
        return -jnp.mean(jnp.sum(log_probs * advantage, axis=1)), jnp.mean(to_go[:, 0])

    @jax.jit
    def train(key):
        weights = jnp.zeros((4,), jnp.float32)

        def body(carry, iteration_key):
            weights, opt_state = carry
            grads, mean_return = jax.grad(surrogate, has_aux=True)(weights, iteration_key)
            updates, opt_state = optimizer.update(grads, opt_state, weights)
            return (optax.apply_updates(weights, updates), opt_state), mean_return

        (weights, _), history = jax.lax.scan(body, (weights, optimizer.init(weights)),
                                             jax.random.split(key, num_iterations))
        return weights, history

    return train(key)


def compare_policies(config: SlateConfig, key, num_iterations=150, num_episodes=512) -> dict:
    """Train REINFORCE, then evaluate learned (greedy), random and myopic on the same episodes."""
    train_key, eval_key, random_key = jax.random.split(key, 3)
    weights, history = train_reinforce(config, train_key, num_iterations=num_iterations)
    n = config.num_candidates
    policies = {
        "learned": lambda obs, k: linear_scores(weights, obs, n),
        "random": lambda obs, k: jax.random.uniform(k, (n,)),
        "myopic": lambda obs, k: myopic_scores(obs, n),
    }
    out = {"weights": weights, "training_return": history}
    for name, policy in policies.items():
        returns = evaluate(config, policy, eval_key, num_episodes)
        out[name] = {"mean": float(returns.mean()),
                     "stderr": float(returns.std(ddof=1) / jnp.sqrt(returns.size))}
    return out
