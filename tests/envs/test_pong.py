"""Pong: analytic wall and paddle reflections, scoring, frames, branch-free jaxprs, baseline scores."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.engine.wrappers import VmapWrapper
from simlab.envs.classic.pong import BALL_INTENSITY, PADDLE_INTENSITY, Pong, PongParams, tracking_action


def _with(env, ball, paddles):
    state = env.reset(jax.random.key(0))
    sim = state.sim.replace(ball=jnp.asarray(ball, jnp.float32), paddles=jnp.asarray(paddles, jnp.float32))
    return state.replace(sim=sim)


STAY = jnp.zeros(1)  # position control: target height 0.5, where the paddles start


@pytest.mark.parametrize("y, vy, y_expected", [(0.02, -0.03, 0.01), (0.99, 0.03, 0.98)])
def test_ball_reflects_off_walls_analytically(y, vy, y_expected):
    env = Pong()
    state = jax.jit(env.step)(_with(env, [0.5, y, 0.01, vy], [0.5, 0.5]), STAY)
    np.testing.assert_allclose(np.asarray(state.sim.ball), [0.51, y_expected, 0.01, -vy], atol=1e-6)
    assert float(state.reward) == 0.0


def test_paddle_reflects_the_ball_and_adds_spin():
    env = Pong()
    p = env.params
    # Crosses the agent's plane x = 0.94 at y = 0.55 + 0.5 * 0.02 = 0.56: offset 0.6 half-heights above centre 0.5.
    state = jax.jit(env.step)(_with(env, [0.925, 0.55, 0.03, 0.02], [0.5, 0.5]), STAY)
    x, y, vx, vy = np.asarray(state.sim.ball)
    np.testing.assert_allclose(x, 2 * p.agent_x - 0.955, atol=1e-6)
    np.testing.assert_allclose([y, vx], [0.57, -0.03], atol=1e-6)
    np.testing.assert_allclose(vy, min(0.02 + p.spin * 0.6, p.max_ball_speed_y), atol=1e-6)
    assert float(state.reward) == 0.0


def test_points_are_scored_when_the_ball_passes_a_paddle():
    env = Pong()
    step = jax.jit(env.step)
    # The agent's paddle is at the top, the ball passes its plane low and leaves the court on the right.
    state = _with(env, [0.92, 0.8, 0.03, 0.0], [0.1, 0.5])
    rewards = []
    for _ in range(3):
        state = step(state, -jnp.ones(1))
        rewards.append(float(state.reward))
    assert rewards == [0.0, 0.0, -1.0] and float(state.metrics["points_against"]) == 1.0
    assert float(state.sim.ball[0]) == 0.5  # served again from the centre
    # The opponent's paddle is far from a ball leaving on the left: +1.
    state = step(_with(env, [0.01, 0.9, -0.03, 0.0], [0.5, 0.1]), STAY)
    assert float(state.reward) == 1.0 and float(state.metrics["points_for"]) == 1.0


def test_frames_show_ball_and_paddles_and_stack_oldest_first():
    env = Pong()
    s = env.params.frame_size
    step = jax.jit(env.step)
    state = step(step(_with(env, [0.44, 0.5, 0.03, 0.0], [0.5, 0.5]), STAY), STAY)  # ball x 0.47, then 0.50
    frames = np.asarray(state.obs)
    assert frames.shape == (s, s, 2) and frames.dtype == np.float32
    assert frames[16, 15, 0] == BALL_INTENSITY and frames[16, 16, 1] == BALL_INTENSITY
    assert frames[16, 16, 0] != BALL_INTENSITY and frames[16, 15, 1] != BALL_INTENSITY
    assert frames[16, int(env.params.agent_x * s), 1] == PADDLE_INTENSITY
    assert frames[16, int(env.params.opponent_x * s), 1] == PADDLE_INTENSITY
    background = frames[:, 10, 1]
    assert np.all(np.diff(background) > 0)  # the ramp: every row band has its own level
    state_env = envs.make("pong_state")
    assert state_env.observation_size == 6
    np.testing.assert_allclose(np.asarray(state_env.reset(jax.random.key(0)).obs)[[4, 5]], [0.5, 0.5])


def test_reset_and_step_are_branch_free():
    for name in ("pong", "pong_state"):
        env = envs.make(name)
        state = env.reset(jax.random.key(0))
        for fn, args in ((env.reset, (jax.random.key(0),)), (env.step, (state, jnp.zeros(1)))):
            text = str(jax.make_jaxpr(fn)(*args))
            assert "cond" not in text and "while" not in text, name


def test_random_policy_loses_and_the_tracking_teacher_wins():
    env = VmapWrapper(envs.make("pong_state", episode_length=500), 8)

    def score(policy):
        def body(carry, key):
            state, total = carry
            state = env.step(state, policy(state.obs, key))
            return (state, total + state.reward), None

        init = (env.reset(jax.random.key(1)), jnp.zeros(8))
        return jnp.mean(jax.lax.scan(body, init, jax.random.split(jax.random.key(2), 500))[0][1])

    random_score = float(jax.jit(lambda: score(lambda obs, k: jax.random.uniform(k, (8, 1), minval=-1, maxval=1)))())
    teacher_score = float(jax.jit(lambda: score(lambda obs, k: tracking_action(obs)))())
    assert random_score < -3.0 < 2.0 < teacher_score


def test_bad_options_raise():
    with pytest.raises(ValueError, match="observation"):
        Pong(observation="rgb")
    with pytest.raises(TypeError, match="valid ones"):
        Pong(paddle_width=3)
    with pytest.raises(ValueError, match="control"):
        Pong(PongParams(control="torque"))
