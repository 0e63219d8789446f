"""The pixel task of the sensory-neuron experiments: "puzzle Pong".

The agent plays `envs.classic.pong` (32 x 32 frames, 2 stacked) from 4 x 4
patches (N = 64, D = 32). Conditions (all evaluated with the same parameters):
  unshuffled   every patch, in row-major order;
  shuffled     every patch, one random permutation per episode;
  shown_PCT    shuffled, and only round(PCT% of 64) random patches shown, a new
               subset at every step (shown_100 is `shuffled`).

Baselines: `random` (uniform actions in [-1, 1]) and `teacher` (the policy the
agent was cloned from, reading the true state).

    params, meta = load_params(pong_params_path())
    report = evaluate_pong(params, num_episodes=100)
"""
from __future__ import annotations

import pathlib
import time
from typing import Callable

import jax
import numpy as np

from simlab import envs
from simlab.agents.evaluation import make_episode_returns, make_evaluator
from simlab.agents.loading import load_teacher
from simlab.agents.sensory.pixel import PixelConfig, make_pixel_policy
from simlab.agents.sensory.tasks import PARAMS_DIR
from simlab.engine.env import Env, State
from simlab.engine.wrappers import TimeLimit, with_patch_transforms
from simlab.envs.classic.pong import Pong, tracking_action

PONG_CONFIG = PixelConfig(patch_size=4, num_frames=2, query_grid=(4, 4), message_size=32, head_hidden=(64,))
NUM_PATCHES = (32 // 4) ** 2
EPISODE_LENGTH = 1000
FRACTIONS = (0.1, 0.3, 0.5, 0.7, 1.0)
BASELINES = ("random", "teacher")


def shown_condition(fraction: float) -> str:
    return f"shown_{int(round(100 * fraction))}"


CONDITIONS = ("unshuffled", "shuffled") + tuple(shown_condition(f) for f in FRACTIONS if f < 1.0)


def num_shown_of(condition: str) -> int | None:
    """Patches shown under `condition` (None: all)."""
    if condition in ("unshuffled", "shuffled"):
        return None
    if not condition.startswith("shown_"):
        raise ValueError(f"unknown pong condition {condition!r}; use unshuffled, shuffled or shown_PCT "
                         f"(e.g. {', '.join(CONDITIONS)})")
    percent = float(condition[len("shown_"):])
    if not 0 < percent <= 100:
        raise ValueError(f"shown_PCT needs 0 < PCT <= 100, got {condition!r}")
    return max(1, int(round(percent / 100 * NUM_PATCHES)))


def pong_patch_env(condition: str = "shuffled") -> Env:
    """Unbatched Pong observed as patches under `condition`, without a time limit."""
    base = envs.make("pong", episode_length=None)
    shown = num_shown_of(condition)
    return with_patch_transforms(base, PONG_CONFIG.patch_size, shuffle=condition != "unshuffled",
                                 num_shown=None if shown == NUM_PATCHES else shown)


def teacher_observation(state: State) -> jax.Array:
    """The `[..., 6]` true state of (batched or not) Pong states, read from `state.sim`."""
    features = Pong().state_features
    return jax.vmap(features)(state.sim) if state.sim.ball.ndim == 2 else features(state.sim)


def pong_teacher(spec: str = "scripted") -> Callable[[jax.Array], jax.Array]:
    """`act(state_obs [B, 6]) -> [B, 1]`: "scripted" (`tracking_action`) or a `simlab train pong_state` run dir."""
    return tracking_action if spec == "scripted" else load_teacher(spec)


def pong_params_path(stem: str = "pong") -> pathlib.Path:
    """Where the pixel agent's parameters `<stem>_sensory` live (the shipped ones: stem "pong")."""
    return PARAMS_DIR / f"{stem}_sensory"


def _baseline_returns(kind: str, teacher_act, num_episodes: int):
    """`returns(key) -> [num_episodes]` of the uniform random policy or the teacher on `pong_state`."""
    def random_act(obs, key):
        return jax.random.uniform(key, (obs.shape[0], 1), minval=-1.0, maxval=1.0)

    policy = random_act if kind == "random" else (lambda obs, key: teacher_act(obs))
    return make_evaluator(envs.make("pong_state", episode_length=EPISODE_LENGTH), policy, num_episodes)


def evaluate_pong(params, num_episodes: int = 100, seed: int = 0, conditions=CONDITIONS,
                  baselines=BASELINES, teacher: str = "scripted", chunk: int = 100,
                  log: Callable[[str], None] | None = None) -> dict[str, dict[str, float]]:
    """`{name: {"mean", "std", "episodes", "num_shown"}}` of the episode score (points for minus against).

    `params` may be None to evaluate the baselines only. Each condition draws
    its episodes from its own keys; episodes run in jitted chunks of `chunk`.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    size = min(chunk, num_episodes)
    policy = make_pixel_policy(PONG_CONFIG)
    runs = {}
    for name in baselines:
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
        runs[name] = (jax.jit(_baseline_returns(name, pong_teacher(teacher), size)), NUM_PATCHES)
    if params is not None:
        for condition in conditions:
            env = TimeLimit(pong_patch_env(condition), EPISODE_LENGTH)
            run = make_episode_returns(env, policy, size)
            runs[condition] = (jax.jit(lambda key, run=run: run(params, key)), num_shown_of(condition) or NUM_PATCHES)
    results = {}
    for index, (name, (run, shown)) in enumerate(runs.items()):
        start = time.perf_counter()
        key, values = jax.random.fold_in(jax.random.key(seed), index), []
        while sum(map(len, values)) < num_episodes:
            key, sub = jax.random.split(key)
            values.append(np.asarray(run(sub)))
        scores = np.concatenate(values)[:num_episodes]
        results[name] = {"mean": float(scores.mean()), "std": float(scores.std()), "episodes": int(scores.size),
                         "num_shown": int(shown), "fraction_shown": shown / NUM_PATCHES}
        if log is not None:
            log(f"{name:>11}: {scores.mean():6.2f} ± {scores.std():5.2f}  ({shown}/{NUM_PATCHES} patches, "
                f"{time.perf_counter() - start:.0f}s)")
    return results
