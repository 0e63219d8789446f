"""Slate recommendation as an `engine.Env` (gymnasium id `simlab/SlateRecommendation-v0`).

| quantity | value |
|---|---|
| observation | float32[1 + 2N]: user satisfaction, appeal of the N candidates, their quality |
| action | float32[N] document scores; the top `slate_size` documents form the slate |
| reward | utility `click * (1 + satisfaction)` of the step |
| termination | never |
| truncation | `horizon` steps (100) via `envs.make`'s time limit |

The user model is `recsim.apps.slate_rl` (click-bait vs quality with a slowly
moving satisfaction state), so a myopic recommender that shows the most
appealing documents earns less over the horizon than one that invests in
quality. The action is a score vector so that any continuous-action learner
can drive it; a slate-aware learner samples Plackett-Luce slates through
Gumbel-perturbed scores (see `recsim.apps.slate_rl.train_reinforce`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.recsim.apps import slate_rl


class SlateRecommendation(Env):
    """One user; the recommender picks a slate of `slate_size` from `num_candidates` documents."""

    def __init__(self, num_candidates: int = 10, slate_size: int = 3, appeal_weight: float = 3.0,
                 memory: float = 0.9, horizon: int = 100):
        self.config = slate_rl.SlateConfig(num_candidates, slate_size, appeal_weight, memory, horizon)
        self.default_episode_length = horizon

    def reset(self, key: jax.Array) -> State:
        sim = slate_rl.reset(self.config, key)
        return initial_state(sim, slate_rl.observe(sim),
                             {"clicked": jnp.zeros((), jnp.float32),
                              "satisfaction": sim.satisfaction})

    def step(self, state: State, action: jax.Array) -> State:
        scores = jnp.asarray(action, jnp.float32).reshape(self.config.num_candidates)
        sim, utility, clicked = slate_rl.step(self.config, state.sim, scores)
        return state.replace(sim=sim, obs=slate_rl.observe(sim), reward=utility.astype(jnp.float32),
                             terminated=jnp.zeros((), jnp.bool_),
                             metrics={"clicked": clicked.astype(jnp.float32),
                                      "satisfaction": sim.satisfaction})

    @property
    def observation_spec(self) -> BoxSpec:
        n = self.config.num_candidates
        low = np.concatenate([[-1.0], np.full(n, -np.inf), np.full(n, -1.0)])
        high = np.concatenate([[1.0], np.full(n, np.inf), np.full(n, 1.0)])
        return BoxSpec((self.config.observation_size,), np.float32, low, high)

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec((self.config.num_candidates,), low=-10.0, high=10.0)

    def __repr__(self) -> str:
        c = self.config
        return f"SlateRecommendation(num_candidates={c.num_candidates}, slate_size={c.slate_size})"
