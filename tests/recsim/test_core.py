"""Network validation, previous/current semantics, keys, specs and observe mode."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.engine.distributions import Normal
from simlab.recsim.core import (DependencyCycleError, Network, Runtime, Variable, previous)


def _const(value):
    return lambda ctx, *deps: {"x": jnp.asarray(value, jnp.float32)}


def test_cycle_raises_naming_the_cycle():
    a = Variable("a", initial=_const(0.0), step=(lambda ctx, b: {"x": b["x"]}, ["b"]))
    b = Variable("b", initial=_const(0.0), step=(lambda ctx, c: {"x": c["x"]}, ["c"]))
    c = Variable("c", initial=_const(0.0), step=(lambda ctx, a: {"x": a["x"]}, ["a"]))
    with pytest.raises(DependencyCycleError, match=r"a -> b -> c -> a"):
        Network([a, b, c])


def test_previous_dependency_breaks_cycle():
    a = Variable("a", initial=_const(0.0), step=(lambda ctx, b: {"x": b["x"]}, [previous("b")]))
    b = Variable("b", initial=_const(0.0), step=(lambda ctx, a: {"x": a["x"]}, ["a"]))
    assert Network([a, b]).step_order == ("a", "b")


def test_unknown_dependency_and_previous_in_initial_raise():
    with pytest.raises(ValueError, match="unknown variable 'nope'"):
        Network([Variable("a", initial=(lambda ctx, n: n, ["nope"]))])
    with pytest.raises(ValueError, match="no previous step"):
        Variable("a", initial=(lambda ctx, n: n, [previous("a")]))
    with pytest.raises(ValueError, match="unique"):
        Network([Variable("a", initial=_const(0.0)), Variable("a", initial=_const(1.0))])


def test_previous_and_current_semantics_hand_computed():
    # a_t = a_{t-1} + 1;  b_t = 10 * a_t (current);  c_t = b_{t-1} + a_t
    a = Variable("a", initial=_const(1.0), step=(lambda ctx, a: {"x": a["x"] + 1.0}, [previous("a")]))
    b = Variable("b", initial=(lambda ctx, a: {"x": 10.0 * a["x"]}, ["a"]),
                 step=(lambda ctx, a: {"x": 10.0 * a["x"]}, ["a"]))
    # declared first on purpose: the runtime must order it after a and b
    c = Variable("c", initial=(lambda ctx, a, b: {"x": a["x"] + b["x"]}, ["a", "b"]),
                 step=(lambda ctx, b_prev, a: {"x": b_prev["x"] + a["x"]}, [previous("b"), "a"]))
    runtime = Runtime(Network([c, b, a]))
    traj = jax.jit(lambda k: runtime.trajectory(k, 3))(jax.random.PRNGKey(0))
    np.testing.assert_allclose(traj["a"]["x"], [1, 2, 3, 4])
    np.testing.assert_allclose(traj["b"]["x"], [10, 20, 30, 40])
    np.testing.assert_allclose(traj["c"]["x"], [11, 12, 23, 34])
    final = runtime.execute(jax.random.PRNGKey(0), 3)
    np.testing.assert_allclose(final["c"]["x"], 34)


def test_shape_change_between_steps_is_a_clear_error():
    a = Variable("a", initial=lambda ctx: {"x": jnp.zeros(3)},
                 step=(lambda ctx, a: {"x": jnp.zeros(4)}, [previous("a")]))
    with pytest.raises(ValueError, match=r"'a' field 'x'.*shape \(4,\).*\(3,\)"):
        Runtime(Network([a])).trajectory(jax.random.PRNGKey(0), 2)


def _random_walk_network(scale=1.0):
    walk = Variable(
        "walk",
        initial=lambda ctx: {"x": ctx.draw("x", Normal(jnp.zeros(5), 1.0))},
        step=(lambda ctx, w: {"x": ctx.draw("x", Normal(w["x"], scale))}, [previous("walk")]),
    )
    noise = Variable(
        "noise",
        initial=lambda ctx: {"y": ctx.draw("y", Normal(jnp.zeros(5), 1.0))},
        step=lambda ctx: {"y": ctx.draw("y", Normal(jnp.zeros(5), 1.0))},
    )
    return Network([walk, noise])


def test_keys_are_split_per_variable_and_replicas_differ():
    runtime = Runtime(_random_walk_network())
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    finals = jax.jit(lambda k: runtime.replicas(k, 5))(keys)
    assert finals["walk"]["x"].shape == (4, 5)
    assert len(np.unique(np.asarray(finals["walk"]["x"][:, 0]))) == 4
    # same key -> same result; walk and noise draw independent numbers
    t1 = runtime.trajectory(jax.random.PRNGKey(3), 4)
    t2 = runtime.trajectory(jax.random.PRNGKey(3), 4)
    np.testing.assert_array_equal(t1["walk"]["x"], t2["walk"]["x"])
    assert not np.allclose(t1["walk"]["x"][0], t1["noise"]["y"][0])


def test_observe_mode_scores_sum_of_normal_terms():
    from scipy import stats
    runtime = Runtime(_random_walk_network(scale=0.5))
    traj = runtime.trajectory(jax.random.PRNGKey(2), 3)
    x, y = np.asarray(traj["walk"]["x"], np.float64), np.asarray(traj["noise"]["y"], np.float64)
    expected = stats.norm.logpdf(x[0]).sum() + stats.norm.logpdf(y).sum()
    expected += stats.norm.logpdf(x[1:], loc=x[:-1], scale=0.5).sum()
    np.testing.assert_allclose(float(runtime.log_prob(traj)), expected, rtol=1e-5)
    terms = runtime.log_prob_terms(traj)
    assert terms["walk"].shape == (4,)


def test_observe_mode_rejects_malformed_logs():
    runtime = Runtime(_random_walk_network())
    traj = runtime.trajectory(jax.random.PRNGKey(2), 2)
    with pytest.raises(ValueError, match="lacks variables"):
        runtime.log_prob({"walk": traj["walk"]})
    bad = {**traj, "noise": {"y": traj["noise"]["y"][:, :3]}}
    with pytest.raises(ValueError, match=r"'noise' field 'y': the logged value has shape \(3,\)"):
        runtime.log_prob(bad)
