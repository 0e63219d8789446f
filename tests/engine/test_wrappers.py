"""Time limit, auto-reset, episode statistics and vmap wrappers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import engine
from simlab import envs
from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec


class Counter(Env):
    """Deterministic toy dynamics with known termination: x += action; terminates at x >= 5.

    Reset draws x0 uniformly in [0, 1) so that different episodes are distinguishable.
    """

    default_episode_length = 10

    @property
    def observation_spec(self):
        return BoxSpec((1,))

    @property
    def action_spec(self):
        return BoxSpec((1,), low=-10.0, high=10.0)

    def reset(self, key):
        x0 = jax.random.uniform(key, (1,))
        return initial_state(x0, x0, metrics={"x": x0[0]})

    def step(self, state, action):
        x = state.sim + action
        return state.replace(sim=x, obs=x, reward=jnp.float32(1.0), terminated=x[0] >= 5.0,
                             truncated=jnp.bool_(False), metrics={"x": x[0]})


def test_time_limit_sets_truncated_never_terminated():
    env = engine.TimeLimit(Counter(), episode_length=3)
    step = jax.jit(env.step)
    state = env.reset(jax.random.key(0))
    flags = []
    for _ in range(3):
        state = step(state, jnp.zeros(1))
        flags.append((bool(state.terminated), bool(state.truncated)))
    assert flags == [(False, False), (False, False), (False, True)]


def test_time_limit_does_not_truncate_a_terminal_step():
    env = engine.TimeLimit(Counter(), episode_length=2)
    state = env.reset(jax.random.key(0))
    state = env.step(state, jnp.ones(1))
    state = env.step(state, jnp.full((1,), 10.0))  # terminal exactly at the limit
    assert bool(state.terminated) and not bool(state.truncated)


@pytest.fixture(scope="module")
def batched_counter():
    env = engine.wrap_for_training(Counter(), num_envs=64, episode_length=4)
    return env, jax.jit(env.reset), jax.jit(env.step)


def test_autoreset_draws_fresh_initial_states(batched_counter):
    env, reset, step = batched_counter
    state = reset(jax.random.key(1))
    starts = [np.asarray(state.obs[:, 0])]
    for t in range(12):  # three full episodes of 4 steps, zero actions
        state = step(state, jnp.zeros((64, 1)))
        if (t + 1) % 4 == 0:
            assert bool(jnp.all(state.truncated)) and not bool(jnp.any(state.terminated))
            # final_obs keeps the last observation of the finished episode (= its start, zero actions)
            np.testing.assert_allclose(np.asarray(state.info["final_obs"][:, 0]), starts[-1])
            starts.append(np.asarray(state.obs[:, 0]))
    starts = np.stack(starts)  # [episodes, envs]
    # Every episode of every environment starts from a different state.
    assert len(np.unique(starts.round(7))) == starts.size


def test_autoreset_keeps_final_reward_and_flags(batched_counter):
    env, reset, step = batched_counter
    state = reset(jax.random.key(2))
    state = step(state, jnp.full((64, 1), 6.0))  # every env terminates on step 1
    assert bool(jnp.all(state.terminated)) and not bool(jnp.any(state.truncated))
    assert bool(jnp.all(state.reward == 1.0))
    assert bool(jnp.all(state.info["final_obs"][:, 0] >= 5.0))  # the terminal observation
    assert bool(jnp.all(state.obs[:, 0] < 1.0))  # already the next episode's start
    assert bool(jnp.all(state.info["steps"] == 0))
    assert bool(jnp.all(state.info["last_episode_return"] == 1.0))
    assert bool(jnp.all(state.info["last_episode_length"] == 1))
    assert bool(jnp.all(state.info["episodes_finished"] == 1))


def test_cached_autoreset_replays_the_first_state():
    env = engine.wrap_for_training(Counter(), num_envs=8, episode_length=2, auto_reset="cached")
    state = env.reset(jax.random.key(3))
    first = np.asarray(state.obs)
    for _ in range(4):
        state = env.step(state, jnp.ones((8, 1)))
    np.testing.assert_array_equal(np.asarray(state.obs), first)


def test_wrapped_step_jaxpr_has_no_cond_or_while(batched_counter):
    env, reset, _ = batched_counter
    state = reset(jax.random.key(0))
    names = engine.branchfree.primitive_names(env.step, state, jnp.zeros((64, 1)))
    assert not names & {"cond", "while", "switch"}
    assert "select_n" in names  # the reset is a select, not a branch


def test_branchfree_detects_a_cond():
    fn = lambda x: jax.lax.cond(x > 0, lambda: x, lambda: -x)
    with pytest.raises(AssertionError, match="cond"):
        engine.branchfree.assert_branch_free(fn, 1.0)


def test_cartpole_training_stack_is_branch_free():
    env = envs.make("cartpole_swingup", num_envs=4)
    state = env.reset(jax.random.key(0))
    engine.branchfree.assert_branch_free(env.step, state, jnp.zeros((4, 1)))


def test_select_tree_rejects_mismatched_structures():
    with pytest.raises(ValueError, match="same structure"):
        engine.select_tree(jnp.bool_(True), {"a": 1.0}, {"b": 1.0})


def test_wrapper_argument_errors():
    with pytest.raises(ValueError, match="episode_length"):
        engine.TimeLimit(Counter(), 0)
    with pytest.raises(ValueError, match="num_envs"):
        engine.VmapWrapper(Counter(), -3)
    with pytest.raises(ValueError, match="fresh"):
        engine.AutoReset(Counter(), mode="sometimes")
    with pytest.raises(TypeError, match="engine.Env"):
        engine.TimeLimit(object(), 5)


def test_set_batch_mesh_finds_the_vmap_layer():
    from simlab.engine.sharding import make_mesh
    from simlab.engine.wrappers import VmapWrapper, set_batch_mesh

    mesh = make_mesh(jax.devices()[:1])
    batched = envs.make("pendulum", num_envs=6)
    assert set_batch_mesh(batched, mesh)
    layer = batched
    while not isinstance(layer, VmapWrapper):
        layer = layer.env
    assert layer.mesh is mesh
    state = jax.jit(batched.step)(jax.jit(batched.reset)(jax.random.key(0)), jnp.zeros((6, 1)))
    assert state.obs.shape[0] == 6
    assert not set_batch_mesh(envs.make("pendulum"), mesh)  # unbatched: nothing to shard
