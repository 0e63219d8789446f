"""The environments `simlab ibc` and `bench/ibc.py` know: one `Task` row per environment in `TASKS`.

A row holds everything environment-specific: how to build the env from its command-line options, its
scripted oracle, which metric is success, and the recipe (network size, training steps, inference
sample counts) its models are trained with. Everything else (demos, training, evaluation, saving) is
shared. To add an environment, write its `Task` below and add it to `TASKS`; the environment's own
module must not import this one (this module imports it).

Observation and action bounds need no entry: every model normalises with statistics of the
demonstrations (`normalizer`: observation mean/std; the actions' range widened by 5 %).
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

from simlab.engine.env import Env
from simlab.plugins.ibc.block_push import BlockPush
from simlab.plugins.ibc.block_push_oracle import block_push_oracle
from simlab.plugins.ibc.demos import Oracle
from simlab.plugins.ibc.dfo import DFOConfig
from simlab.plugins.ibc.langevin import LangevinConfig
from simlab.plugins.ibc.models import MODEL_NAMES, default_config
from simlab.plugins.ibc.networks import NetworkConfig
from simlab.plugins.ibc.oracle import particle_oracle
from simlab.plugins.ibc.particle import ParticleEnv, check_dim
from simlab.plugins.ibc.training import TrainConfig


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a task's models are trained: `configs` and `train` map each model name to its config and
    `TrainConfig`; `num_demos`: oracle episodes; `eval_batch`: episodes per jitted evaluation call."""

    configs: dict[str, Any]
    train: dict[str, TrainConfig]
    num_demos: int = 2000
    eval_batch: int = 100


@dataclasses.dataclass(frozen=True)
class Task:
    """One environment of the plug-in.

    name: the `envs` name (e.g. "particle"); make_env(**options) -> Env; make_oracle(env) -> Oracle;
    options: the env keyword arguments the command line may set and their types (`--dim` sets "dim");
    defaults: their defaults; check_options(options) raises ValueError for bad ones (before any work);
    recipe(options) -> Recipe; success_metric: the `state.metrics` key read at the last step.
    """

    name: str
    make_env: Callable[..., Env]
    make_oracle: Callable[[Env], Oracle]
    options: dict[str, type]
    defaults: dict[str, Any]
    recipe: Callable[[dict[str, Any]], Recipe]
    check_options: Callable[[dict[str, Any]], None] = lambda options: None
    success_metric: str = "success"

    def resolve(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """`defaults` updated with `options`, checked; raises ValueError for an option the task lacks."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise ValueError(f"{self.name} takes no option(s) {', '.join(unknown)}; its options: {valid}")
        resolved = {**self.defaults, **options}
        self.check_options(resolved)
        return resolved

    def env(self, options: dict[str, Any] | None = None) -> Env:
        """The unwrapped environment with `options` (resolved)."""
        return self.make_env(**self.resolve(options))

    def tag(self, options: dict[str, Any] | None = None) -> str:
        """The directory name of this task with `options`, e.g. "particle_dim2"."""
        resolved = self.resolve(options)
        return self.name + "".join(f"_{key}{_text(resolved[key])}" for key in sorted(resolved))


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- the particle ----------------------------------------------------------------------------------

def _check_particle(options: dict[str, Any]) -> None:
    try:
        check_dim(options["dim"])
    except TypeError as err:
        raise ValueError(str(err)) from None


def particle_recipe(options: dict[str, Any]) -> Recipe:
    """The particle's recipe, the same for every N: one network (a 2-block ResNet encoder of width 128 and a
    late-fusion head of width 64) for all four models, and 20,000 Adam steps of 256 pairs for each.

    Deviations from the paper's particle settings, for a 2-core CPU (measured on 2-D, see bench/ibc.py):
    late fusion instead of the 256-wide early-fusion MLP; 8 Langevin counter-examples (its gin) with
    50-step chains; 64 uniform counter-examples for the DFO variant instead of 256, and 4,096 DFO samples
    instead of 16,384; 64 Langevin chains at inference; the lowest-energy candidate is taken (greedy: 0.95
    success on 2-D where sampling by softmax(-E) gave 0.40).
    """
    check_dim(options["dim"])
    network = NetworkConfig(width=128, depth=2, head_width=64)
    configs = {name: default_config(name, network) for name in MODEL_NAMES}
    configs["ebm_langevin"] = dataclasses.replace(
        configs["ebm_langevin"], num_counter_examples=8, train_langevin=LangevinConfig(num_steps=50),
        langevin=LangevinConfig(num_steps=50), inference_samples=64, greedy=True)
    configs["ebm_dfo"] = dataclasses.replace(configs["ebm_dfo"], num_counter_examples=64,
                                             dfo=DFOConfig(num_samples=4096), greedy=True)
    train = {name: TrainConfig(steps=20_000, batch_size=256) for name in MODEL_NAMES}
    return Recipe(configs, train)


PARTICLE = Task("particle", ParticleEnv, lambda env: particle_oracle(), {"dim": int}, {"dim": 2}, particle_recipe,
                _check_particle)

# --- block pushing ----------------------------------------------------------------------------------

def _check_block_push(options: dict[str, Any]) -> None:
    if not isinstance(options["multi_target"], bool):
        raise ValueError(f"block_push: multi_target must be true or false, got {options['multi_target']!r}")


def block_push_recipe(options: dict[str, Any]) -> Recipe:
    """Block pushing's recipe: the particle's network (64 wide, 2 residual blocks) for all four models; the
    DFO EBM with 64 uniform counter-examples and 1,024 inference samples (2-D actions need no more).
    2,000 demos, 100 episodes, 5,000 steps each (EBMs 2-4 min on 2 shared cores): single target EBM (Langevin)
    0.98, EBM (DFO) 0.96, MSE 0.81, MDN 0.38; multi-target 0.77 / 0.87 / 0.85 / 0.15."""
    network = NetworkConfig(width=64, depth=2)
    configs = {name: default_config(name, network) for name in MODEL_NAMES}
    configs["ebm_dfo"] = dataclasses.replace(configs["ebm_dfo"], num_counter_examples=64,
                                             dfo=DFOConfig(num_samples=1024))
    configs["ebm_langevin"] = dataclasses.replace(
        configs["ebm_langevin"], num_counter_examples=8, train_langevin=LangevinConfig(num_steps=20),
        inference_samples=64)
    train = {name: TrainConfig(steps=5000, batch_size=256) for name in MODEL_NAMES}
    return Recipe(configs, train, eval_batch=50)


BLOCK_PUSH = Task("block_push", BlockPush, lambda env: block_push_oracle(env.multi_target), {"multi_target": bool},
                  {"multi_target": False}, block_push_recipe, _check_block_push)

# --- the table --------------------------------------------------------------------------------------
# One row per environment.
TASKS: dict[str, Task] = {PARTICLE.name: PARTICLE, BLOCK_PUSH.name: BLOCK_PUSH}


def get_task(name: str) -> Task:
    """The row of `name`; ValueError listing the known ones (closest first) otherwise."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown IBC environment {name!r}{hint}; choose from {', '.join(TASKS)}")
    return TASKS[name]
