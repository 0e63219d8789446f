"""State models: transition distributions against hand-computed values and inside a network."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from simlab.engine.distributions import Normal
from simlab.recsim import state_models as sm
from simlab.recsim.core import Network, Runtime, Variable, previous


def test_finite_state_markov_controlled_and_not():
    table = jnp.log(jnp.array([[0.9, 0.1], [0.2, 0.8]]))
    chain = sm.FiniteStateMarkov(jnp.zeros(2), table)
    np.testing.assert_allclose(chain.next(jnp.array([0, 1])).log_prob(jnp.array([1, 1])),
                               np.log([0.1, 0.8]), rtol=1e-5)
    controlled = sm.FiniteStateMarkov(jnp.zeros(2), jnp.stack([table, table[:, ::-1]]))
    np.testing.assert_allclose(controlled.next(jnp.array([0]), action=jnp.array([1])).log_prob(jnp.array([0])),
                               np.log([0.1]), rtol=1e-5)
    with pytest.raises(ValueError, match=r"\[A, S, S\]"):
        chain.next(jnp.array([0]), action=jnp.array([0]))


def test_linear_gaussian_and_switching():
    a = jnp.array([[0.5, 0.1], [0.0, 0.9]])
    b = jnp.array([[1.0], [0.0]])
    lg = sm.LinearGaussian(a, b, jnp.array([0.1, -0.1]), jnp.array([0.3, 0.3]), jnp.zeros(2), jnp.ones(2))
    x, u = jnp.array([1.0, 2.0]), jnp.array([0.5])
    dist = lg.next(x, u)
    np.testing.assert_allclose(dist.loc, np.array(a) @ np.array(x) + [0.1, -0.1] + np.array(b) @ np.array(u), rtol=1e-6)
    y = jnp.array([1.0, 1.5])
    ref = stats.multivariate_normal(np.asarray(dist.loc), 0.09 * np.eye(2)).logpdf(np.asarray(y))
    np.testing.assert_allclose(dist.log_prob(y), ref, rtol=1e-5)
    sw = sm.SwitchingLinearGaussian(jnp.stack([a, -a]), jnp.zeros((2, 2)), jnp.array([[0.3, 0.3], [1.0, 1.0]]))
    d = sw.next(jnp.stack([x, x]), jnp.array([0, 1]))
    np.testing.assert_allclose(d.loc, [np.array(a) @ np.array(x), -np.array(a) @ np.array(x)], rtol=1e-6)
    np.testing.assert_allclose(d.scale_diag[1], [1.0, 1.0])


def test_reset_or_continue_and_static_in_a_network():
    def init(ctx):
        return {"x": ctx.draw("x", sm.Static(Normal(jnp.zeros(4), 1.0)).initial())}

    def step(ctx, prev):
        reset = jnp.array([True, False, True, False])
        dist = sm.ResetOrContinue(reset, Normal(jnp.full(4, 100.0), 0.01), sm.Static(None).next(prev["x"]))
        return {"x": ctx.draw("x", dist)}

    runtime = Runtime(Network([Variable("s", initial=init, step=(step, [previous("s")]))]))
    traj = runtime.trajectory(jax.random.PRNGKey(0), 2)
    x = np.asarray(traj["s"]["x"])
    np.testing.assert_allclose(x[2, [1, 3]], x[0, [1, 3]])  # continued elements keep their value
    assert np.all(np.abs(x[1:, [0, 2]] - 100.0) < 0.1)  # reset elements are fresh draws
    expected = stats.norm.logpdf(x[0]).sum() + stats.norm.logpdf(x[1:, [0, 2]], 100.0, 0.01).sum()
    np.testing.assert_allclose(float(runtime.log_prob(traj)), expected, rtol=1e-4)


def test_gmm_state_is_static_mixture():
    model = sm.gmm_state(jnp.zeros((5, 2)), jnp.array([[[0.0], [10.0]]] * 5), jnp.ones((5, 2)))
    x = model.initial().sample(jax.random.PRNGKey(0))
    assert x.shape == (5, 1)
    assert float(model.next(x).log_prob(x).sum()) == 0.0
    ref = special.logsumexp(np.stack([stats.norm.logpdf(np.asarray(x[:, 0]), m, 1.0) for m in (0.0, 10.0)], -1)
                            + np.log(0.5), -1)
    np.testing.assert_allclose(model.initial().log_prob(x), ref, rtol=1e-5)
