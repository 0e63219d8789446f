"""Pong against a scripted, beatable opponent, pure JAX and branch-free.

The court is the unit square: `x` in [0, 1] from left to right, `y` in [0, 1]
from top to bottom (the row direction of the rendered frame). The agent's
paddle is the vertical segment at `x = agent_x` (right), the opponent's at
`x = opponent_x` (left); both have half-height `paddle_half_height` and their
centres stay in `[h, 1 - h]`. The ball is a point moving `(vx, vy)` court units
per step.

One step (every choice is a `jnp.where`, no Python control flow on data):
1. paddles move: the agent's towards the height its action asks for (`control="position"`,
   the default, like the original game's paddle knob: target `y = (action + 1) / 2`)
   or with velocity `paddle_speed * action` (`control="velocity"`), by at most
   `paddle_speed` per step either way; the opponent
   towards the ball by at most `opponent_speed`, and only while the ball comes
   towards it inside its half (so fast, steep balls beat it);
2. the ball moves; crossing `y = 0` or `y = 1` reflects it analytically
   (`y -> -y`, `y -> 2 - y`, `vy -> -vy`);
3. crossing a paddle's plane within `h` of its centre reflects `x` about that
   plane, flips `vx` and adds spin `spin * offset / h` to `vy` (clipped to
   `max_ball_speed_y`);
4. the ball leaving the court (`x > 1` or `x < 0`) scores -1 / +1 and a new
   ball is served from the centre in a random direction.

| quantity | value |
|---|---|
| observation, `observation="pixels"` (`pong`) | float32 `[S, S, F]` in [0, 1]: the last `F` grayscale frames of `S x S` pixels, oldest first |
| observation, `observation="state"` (`pong_state`) | float32 `[6]`: ball x, ball y, vx / ball_speed_x, vy / ball_speed_x, agent paddle y, opponent paddle y |
| action | float32 `[1]` in [-1, 1] (clamped): the paddle's target height `(action + 1) / 2`, or its velocity with `control="velocity"` |
| reward | +1 when the opponent misses, -1 when the agent misses, else 0 |
| termination | never; truncation after 1000 steps (via `envs.make`) |

Frames: with `background="ramp"` (default) the empty court is a vertical
intensity ramp `0.05 + 0.3 * row / (S - 1)`, so every patch of a frame shows
which row band it came from, even after the patches are shuffled (with a flat
background a shuffled frame holds no information about where the ball is
relative to the paddle). Paddles are drawn at 0.6, the ball at 1.0.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.struct import pytree_dataclass
from simlab.envs.boundary import with_overrides

OBSERVATIONS = ("pixels", "state")
CONTROLS = ("position", "velocity")
BACKGROUNDS = ("ramp", "flat")
PADDLE_INTENSITY = 0.6
BALL_INTENSITY = 1.0


@dataclasses.dataclass(frozen=True)
class PongParams:
    """Court constants in court units (the court is the unit square) and steps."""

    frame_size: int = 32
    num_frames: int = 2
    background: str = "ramp"
    control: str = "position"
    paddle_half_height: float = 0.1
    paddle_speed: float = 0.04
    opponent_speed: float = 0.02
    ball_speed_x: float = 0.03
    max_ball_speed_y: float = 0.04
    serve_speed_y: float = 0.03
    spin: float = 0.015
    agent_x: float = 0.94
    opponent_x: float = 0.06


@pytree_dataclass
class PongSim:
    """ball `[4]` (x, y, vx, vy); paddles `[2]` (agent y, opponent y); key; frames `[S, S, F]`
    (zeros `[1, 1, F]` for the state variant, which does not draw)."""

    ball: jax.Array
    paddles: jax.Array
    frames: jax.Array
    key: jax.Array


def reflect_walls(y: jax.Array, vy: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reflects a position that left [0, 1] by less than 1 back inside; flips `vy` if it did."""
    below, above = y < 0.0, y > 1.0
    y = jnp.where(below, -y, jnp.where(above, 2.0 - y, y))
    vy = jnp.where(jnp.logical_or(below, above), -vy, vy)
    return y, vy


class Pong(Env):
    """Pong from pixels (or from the true state) against a slower scripted opponent."""

    default_episode_length = 1000
    dt = 1.0 / 30.0

    def __init__(self, params: PongParams | None = None, observation: str = "pixels", **overrides):
        self.params = with_overrides(params or PongParams(), overrides, "pong")
        p = self.params
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        if p.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {p.background!r}")
        if p.control not in CONTROLS:
            raise ValueError(f"control must be one of {CONTROLS}, got {p.control!r}")
        if int(p.frame_size) != p.frame_size or p.frame_size < 8:
            raise ValueError(f"frame_size must be an integer >= 8 pixels, got {p.frame_size!r}")
        if int(p.num_frames) != p.num_frames or p.num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {p.num_frames!r}")
        if max(abs(p.ball_speed_x), p.max_ball_speed_y, p.serve_speed_y) >= 0.5:
            raise ValueError("ball speeds must stay below 0.5 court units per step (one reflection per step)")
        self.observation = observation

    # ----------------------------------------------------------------- specs
    @property
    def observation_spec(self) -> BoxSpec:
        p = self.params
        if self.observation == "state":
            vy = max(p.max_ball_speed_y, p.serve_speed_y) / abs(p.ball_speed_x)
            return BoxSpec(shape=(6,), low=np.array([0.0, 0.0, -1.0, -vy, 0.0, 0.0], np.float32),
                           high=np.array([1.0, 1.0, 1.0, vy, 1.0, 1.0], np.float32))
        return BoxSpec(shape=(p.frame_size, p.frame_size, p.num_frames), low=0.0, high=1.0)

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec(shape=(1,), low=-1.0, high=1.0)

    # ------------------------------------------------------------- dynamics
    def _serve(self, key: jax.Array) -> jax.Array:
        p = self.params
        side_key, y_key, vy_key = jax.random.split(key, 3)
        direction = jnp.where(jax.random.bernoulli(side_key), 1.0, -1.0)
        y = jax.random.uniform(y_key, (), jnp.float32, 0.25, 0.75)
        vy = jax.random.uniform(vy_key, (), jnp.float32, -p.serve_speed_y, p.serve_speed_y)
        return jnp.stack([jnp.float32(0.5), y, direction * p.ball_speed_x, vy]).astype(jnp.float32)

    def reset(self, key: jax.Array) -> State:
        serve_key, next_key = jax.random.split(key)
        ball = self._serve(serve_key)
        paddles = jnp.array([0.5, 0.5], jnp.float32)
        frames = jnp.repeat(self._frame(ball, paddles)[:, :, None], self.params.num_frames, axis=2)
        sim = PongSim(ball=ball, paddles=paddles, frames=frames, key=next_key)
        zero = jnp.zeros((), jnp.float32)
        return initial_state(sim, self._observe(sim), metrics={"points_for": zero, "points_against": zero})

    def _paddle_hit(self, x, y, vx, vy_path, plane, centre, towards_positive):
        """Whether the ball's step from (x, y) with velocity (vx, vy_path) hits the paddle at `x = plane`.

        Returns `(hit, offset)`: `offset` in [-1, 1] is where the ball crossed the
        plane relative to the paddle centre, in paddle half-heights.
        """
        x1 = x + vx
        crossed = jnp.logical_and(x < plane, x1 >= plane) if towards_positive else \
            jnp.logical_and(x > plane, x1 <= plane)
        fraction = (plane - x) / jnp.where(vx == 0.0, 1.0, vx)
        y_cross, _ = reflect_walls(y + fraction * vy_path, vy_path)
        offset = (y_cross - centre) / self.params.paddle_half_height
        return jnp.logical_and(crossed, jnp.abs(offset) <= 1.0), offset

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        sim: PongSim = state.sim
        h = p.paddle_half_height
        x, y, vx, vy = sim.ball[0], sim.ball[1], sim.ball[2], sim.ball[3]
        command = jnp.clip(action[0], -1.0, 1.0)
        if p.control == "position":  # static
            move = jnp.clip(0.5 * (command + 1.0) - sim.paddles[0], -p.paddle_speed, p.paddle_speed)
        else:
            move = p.paddle_speed * command
        agent_y = jnp.clip(sim.paddles[0] + move, h, 1.0 - h)
        opponent_active = jnp.logical_and(vx < 0.0, x < 0.5)
        chase = jnp.clip(y - sim.paddles[1], -p.opponent_speed, p.opponent_speed)
        opponent_y = jnp.clip(sim.paddles[1] + jnp.where(opponent_active, chase, 0.0), h, 1.0 - h)

        x1 = x + vx
        y1, vy1 = reflect_walls(y + vy, vy)
        # The two planes are far apart, so at most one paddle is hit in a step.
        agent_hit, agent_offset = self._paddle_hit(x, y, vx, vy, p.agent_x, agent_y, True)
        opponent_hit, opponent_offset = self._paddle_hit(x, y, vx, vy, p.opponent_x, opponent_y, False)
        hit = jnp.logical_or(agent_hit, opponent_hit)
        plane = jnp.where(agent_hit, p.agent_x, p.opponent_x)
        offset = jnp.where(agent_hit, agent_offset, opponent_offset)
        x1 = jnp.where(hit, 2.0 * plane - x1, x1)
        vx1 = jnp.where(hit, -vx, vx)
        vy1 = jnp.where(hit, jnp.clip(vy1 + p.spin * offset, -p.max_ball_speed_y, p.max_ball_speed_y), vy1)

        point_for = x1 < 0.0
        point_against = x1 > 1.0
        scored = jnp.logical_or(point_for, point_against)
        serve_key, next_key = jax.random.split(sim.key)
        moved = jnp.stack([x1, y1, vx1, vy1]).astype(jnp.float32)
        ball = jnp.where(scored, self._serve(serve_key), moved)
        paddles = jnp.stack([agent_y, opponent_y]).astype(jnp.float32)
        frames = jnp.concatenate([sim.frames[:, :, 1:], self._frame(ball, paddles)[:, :, None]], axis=2)
        new_sim = PongSim(ball=ball, paddles=paddles, frames=frames, key=next_key)
        reward = point_for.astype(jnp.float32) - point_against.astype(jnp.float32)
        return state.replace(
            sim=new_sim, obs=self._observe(new_sim), reward=reward,
            terminated=jnp.zeros((), jnp.bool_), truncated=jnp.zeros((), jnp.bool_),
            metrics={"points_for": point_for.astype(jnp.float32),
                     "points_against": point_against.astype(jnp.float32)})

    # ----------------------------------------------------------- observing
    def _observe(self, sim: PongSim) -> jax.Array:
        if self.observation == "state":
            return self.state_features(sim)
        return sim.frames

    def state_features(self, sim: PongSim) -> jax.Array:
        """The `[6]` state observation (what a teacher reads), from a sim of any observation mode."""
        scale = self.params.ball_speed_x
        ball, paddles = sim.ball, sim.paddles
        return jnp.stack([ball[0], ball[1], ball[2] / scale, ball[3] / scale, paddles[0], paddles[1]]
                         ).astype(jnp.float32)

    def _frame(self, ball: jax.Array, paddles: jax.Array) -> jax.Array:
        """The frame kept in the sim: rendered for pixels, a `[1, 1]` zero for the state variant."""
        if self.observation == "state":  # static: the state variant never draws (checkpoints refuse empty arrays)
            return jnp.zeros((1, 1), jnp.float32)
        return self.render_frame(ball, paddles)

    @functools.cached_property
    def _background(self) -> np.ndarray:
        s = self.params.frame_size
        if self.params.background == "flat":
            return np.zeros((s, s), np.float32)
        ramp = 0.05 + 0.3 * np.arange(s, dtype=np.float32) / (s - 1)
        return np.repeat(ramp[:, None], s, axis=1).astype(np.float32)

    def render_frame(self, ball: jax.Array, paddles: jax.Array) -> jax.Array:
        """The `[S, S]` grayscale frame (rows = y, columns = x) of a ball `[4]` and paddles `[2]`."""
        p = self.params
        s = p.frame_size
        centres = (jnp.arange(s, dtype=jnp.float32) + 0.5) / s
        rows, cols = centres[:, None], jnp.arange(s)[None, :]
        agent = jnp.logical_and(cols == int(p.agent_x * s), jnp.abs(rows - paddles[0]) <= p.paddle_half_height)
        opponent = jnp.logical_and(cols == int(p.opponent_x * s),
                                   jnp.abs(rows - paddles[1]) <= p.paddle_half_height)
        in_court = jnp.logical_and(ball[0] >= 0.0, ball[0] < 1.0)
        ball_row = jnp.clip(jnp.floor(ball[1] * s), 0, s - 1).astype(jnp.int32)
        ball_col = jnp.clip(jnp.floor(ball[0] * s), 0, s - 1).astype(jnp.int32)
        ball_mask = jnp.logical_and(in_court, jnp.logical_and(jnp.arange(s)[:, None] == ball_row, cols == ball_col))
        frame = jnp.where(jnp.logical_or(agent, opponent), PADDLE_INTENSITY, jnp.asarray(self._background))
        return jnp.where(ball_mask, BALL_INTENSITY, frame).astype(jnp.float32)

    def render_rgb(self, state: State, width: int = 320, height: int = 240) -> np.ndarray:
        """The latest frame, scaled up (nearest neighbour) to `[height, width, 3]` uint8."""
        frame = np.asarray(self.render_frame(state.sim.ball, state.sim.paddles))
        s = self.params.frame_size
        rows = np.minimum((np.arange(height) * s) // height, s - 1)
        cols = np.minimum((np.arange(width) * s) // width, s - 1)
        gray = (255 * frame[rows][:, cols]).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)

    def __repr__(self) -> str:
        return f"Pong(observation={self.observation!r})"


def pong_state(**kwargs) -> Pong:
    """Pong observed through its true state `[6]` (ball position and velocity, both paddles)."""
    return Pong(observation="state", **kwargs)


def tracking_action(state_obs: jax.Array, control: str = "position",
                    paddle_speed: float = PongParams.paddle_speed) -> jax.Array:
    """Scripted teacher: move the paddle towards the ball's height as fast as allowed.

    `state_obs [..., 6]` (the `pong_state` observation) -> action `[..., 1]` in [-1, 1]:
    the ball's height `2 y - 1` under position control, `(y_ball - y_paddle) / paddle_speed`
    (clipped) under velocity control. The agent's paddle is as fast as the fastest
    ball, so this wins most points against the slower opponent.
    """
    if control == "position":
        return jnp.clip(2.0 * state_obs[..., 1:2] - 1.0, -1.0, 1.0)
    if control == "velocity":
        return jnp.clip((state_obs[..., 1:2] - state_obs[..., 4:5]) / paddle_speed, -1.0, 1.0)
    raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")
