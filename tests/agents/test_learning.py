"""Learning reaches thresholds (CI-sized runs), and APG gradients are exact."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.evaluation import make_evaluator, summarize
from agents.registry import make_agent
from agents.train import TrainOptions, train


def _final_eval(agent, result, episodes=64):
    evaluate = jax.jit(make_evaluator(agent.eval_env, agent.policy(result.state, True), episodes))
    return summarize(evaluate(jax.random.key(123)))


def test_ppo_solves_cartpole_swingup():
    agent = make_agent("ppo", "cartpole_swingup")
    result = train(agent, TrainOptions(total_steps=1_000_000, seed=0, eval_every=1000, progress=False))
    score = _final_eval(agent, result)
    assert score["mean_return"] >= 300, score


def test_sac_solves_pendulum():
    agent = make_agent("sac", "pendulum")
    result = train(agent, TrainOptions(total_steps=10_000, seed=2, eval_every=1000, progress=False))
    score = _final_eval(agent, result, episodes=32)
    assert score["mean_return"] >= -200, score


def test_apg_learns_to_balance():
    agent = make_agent("apg", "pendulum_balance")
    result = train(agent, TrainOptions(total_steps=100_000, seed=0, eval_every=1000, progress=False))
    score = _final_eval(agent, result)
    zero = summarize(jax.jit(make_evaluator(agent.eval_env, lambda o, k: jnp.zeros((o.shape[0], 1)), 64))(
        jax.random.key(123)))
    assert zero["mean_return"] < -300  # doing nothing lets it fall
    assert score["mean_return"] >= -50, score


def test_apg_gradient_matches_finite_differences():
    agent = make_agent("apg", "pendulum_balance", {"num_envs": 4, "horizon": 15, "truncation_length": 15})
    state = agent.init(jax.random.key(0))
    loss = jax.jit(lambda p: agent._negative_return(p, state.env_state)[0])
    grad = jax.grad(lambda p: agent._negative_return(p, state.env_state)[0])(state.policy_params)
    leaves, treedef = jax.tree_util.tree_flatten(state.policy_params)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    direction = jax.tree_util.tree_unflatten(treedef, [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    to64 = lambda t: jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), t)
    eps = 1e-3
    shifted = lambda s: jax.tree_util.tree_map(lambda p, d: p + s * eps * d, state.policy_params, direction)
    finite_diff = (float(loss(shifted(1.0))) - float(loss(shifted(-1.0)))) / (2 * eps)
    analytic = sum(float(np.sum(g * d)) for g, d in zip(jax.tree_util.tree_leaves(to64(grad)),
                                                        jax.tree_util.tree_leaves(to64(direction))))
    assert abs(analytic) > 1e-3
    np.testing.assert_allclose(analytic, finite_diff, rtol=2e-2)
