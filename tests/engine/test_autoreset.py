"""Fresh auto-reset with batched refresh: independent initial states, no retracing, counted stale restarts."""
import jax
import jax.numpy as jnp
import numpy as np

from simlab import engine
from simlab.engine.env import Env, initial_state
from simlab.engine.specs import BoxSpec

NUM_ENVS = 48
LENGTH = 5


class Tracer(Env):
    """x += action; terminates at x >= 5. Reset draws x0 ~ U[0, 1)^4, so initial states identify their draw.
    `traces` counts how often `step` is traced (a Python side effect runs only while tracing)."""

    default_episode_length = LENGTH
    traces = 0

    @property
    def observation_spec(self):
        return BoxSpec((4,))

    @property
    def action_spec(self):
        return BoxSpec((4,), low=-10.0, high=10.0)

    def reset(self, key):
        x0 = jax.random.uniform(key, (4,))
        return initial_state(x0, x0)

    def step(self, state, action):
        Tracer.traces += 1
        x = state.sim + action
        return state.replace(sim=x, obs=x, reward=jnp.float32(1.0), terminated=x[0] >= 5.0,
                             truncated=jnp.bool_(False))


def _starts(env, actions, key):
    """Per environment, the initial observations of its episodes in order ([episodes, 4] each; a single
    environment gives one list), and the final state."""
    step = jax.jit(env.step)
    state = jax.jit(env.reset)(key)
    obs = np.asarray(state.obs).reshape(-1, 4)
    starts = [[row] for row in obs]
    for action in actions:
        state = step(state, action)
        done = np.asarray(state.terminated | state.truncated).reshape(-1)
        for i in np.flatnonzero(done):
            starts[i].append(np.asarray(state.obs).reshape(-1, 4)[i])
    return [np.stack(s) for s in starts], state


# Zero actions: every episode is truncated after 5 steps, all environments at once (the worst burst for the
# refresh); a push of 10 in env 0 at step 7 also ends one episode early, right after a burst.
ACTIONS = np.zeros((40, NUM_ENVS, 4), np.float32)
ACTIONS[6, 0, 0] = 10.0


def test_every_episode_starts_from_its_own_draw_and_batched_equals_unbatched():
    env = engine.wrap_for_training(Tracer(), num_envs=NUM_ENVS, episode_length=LENGTH)
    starts, final = _starts(env, ACTIONS, jax.random.key(0))
    everything = np.concatenate(starts)
    assert len(everything) == NUM_ENVS * 9  # the first episodes and 8 endings each (env 0: one is a termination)
    assert len(np.unique(everything, axis=0)) == len(everything)  # no initial state was used twice
    assert int(np.asarray(final.info["stale_resets"]).sum()) == 0
    # Unbatched, the spare is redrawn inside the step itself; each environment starts the same episodes.
    single = engine.wrap_for_training(Tracer(), num_envs=None, episode_length=LENGTH)
    keys = jax.random.split(jax.random.key(0), NUM_ENVS)
    for i in (0, 1, NUM_ENVS - 1):
        own, _ = _starts(single, ACTIONS[:, i], keys[i])
        np.testing.assert_array_equal(own[0], starts[i])


def test_no_retracing_when_the_number_of_finished_environments_changes():
    env = engine.wrap_for_training(Tracer(), num_envs=NUM_ENVS, episode_length=LENGTH)
    step = jax.jit(env.step)
    state = jax.jit(env.reset)(jax.random.key(1))
    before = Tracer.traces
    finished = []
    for t in range(12):  # 0 finished, then some (terminations), then all (the time limit)
        action = np.zeros((NUM_ENVS, 4), np.float32)
        action[: t * 4, 0] = 10.0
        state = step(state, action)
        finished.append(int(np.asarray(state.terminated | state.truncated).sum()))
    assert len(set(finished)) >= 4
    assert Tracer.traces - before == 1  # traced once, whatever the number of resets
    assert step._cache_size() == 1


def test_restarts_from_used_initial_states_are_counted():
    """Episodes that end on every step outrun a refresh of ceil(n / K) spares per step: each such restart is
    counted in info["stale_resets"] (the documented pool semantics), and none happens with K = 1."""
    push = np.full((10, 8, 4), 10.0, np.float32)
    slow = engine.VmapWrapper(engine.EpisodeStatistics(engine.AutoReset(Tracer(), refresh_every=4)), 8)
    _, final = _starts(slow, push, jax.random.key(2))
    stale = np.asarray(final.info["stale_resets"])
    assert stale.sum() > 0 and stale.sum() < 8 * 10
    fast = engine.VmapWrapper(engine.EpisodeStatistics(engine.AutoReset(Tracer(), refresh_every=1)), 8)
    starts, final = _starts(fast, push, jax.random.key(2))
    assert int(np.asarray(final.info["stale_resets"]).sum()) == 0
    assert len(np.unique(np.concatenate(starts), axis=0)) == 8 * 11
