"""Tasks, evaluation conditions and parameter files of the sensory-neuron experiments.

A task names a base environment and the policies compared on it:
    task = TASKS["cartpole_swingup"]
    env = condition_env(task, "shuffled")                  # unbatched, time-limited
    sensory, mlp = task.sensory_policy(), task.mlp_policy()

Conditions (the paper's table columns):
  unshuffled    the plain observation;
  shuffled      one random permutation per episode;
  reshuffle_25  a new permutation every 25 steps;
  noise         shuffled, with `noise_channels` extra N(0, noise_std) channels.

A task with `shuffle_every=K` (Ant: 200) re-shuffles its `shuffled` and `noise`
observations after every K steps instead of once per episode; `env_kwargs` are
passed to `envs.make` for every condition, the teacher's run included.
"""
from __future__ import annotations

import dataclasses
import pathlib

import jax

from simlab import envs
from simlab.agents import checkpoint
from simlab.agents.policy import RecurrentPolicy, make_mlp_policy
from simlab.agents.sensory.network import make_sensory_policy
from simlab.engine.env import Env
from simlab.engine.wrappers import with_observation_transforms

CONDITIONS = ("unshuffled", "shuffled", "reshuffle_25", "noise")
AGENT_NAMES = ("sensory", "mlp")
PARAMS_DIR = pathlib.Path(__file__).parent / "params"


@dataclasses.dataclass(frozen=True)
class SensoryTask:
    """Static description of one experiment."""

    env_name: str
    action_size: int
    num_queries: int
    head_hidden: tuple[int, ...]
    mlp_hidden: tuple[int, ...]
    noise_channels: int = 5
    noise_std: float = 0.1
    reshuffle_every: int = 25
    # The `shuffled` / `noise` conditions draw a new permutation every `shuffle_every` steps (None: once per episode).
    shuffle_every: int | None = None
    # Keyword arguments of `envs.make(env_name, ...)`, as (name, value) pairs.
    env_kwargs: tuple[tuple[str, object], ...] = ()

    def sensory_policy(self) -> RecurrentPolicy:
        return make_sensory_policy(self.action_size, self.num_queries, head_hidden=self.head_hidden)

    def mlp_policy(self) -> RecurrentPolicy:
        return make_mlp_policy(self.base_env().observation_size, self.action_size, self.mlp_hidden)

    def base_env(self, episode_length: int | None = None) -> Env:
        kw = dict(self.env_kwargs) if episode_length is None else {**dict(self.env_kwargs),
                                                                   "episode_length": episode_length}
        return envs.make(self.env_name, **kw)


TASKS = {
    # Paper: M = 16, message size 32, linear to 1 action with tanh (about 1k parameters).
    "cartpole_swingup": SensoryTask("cartpole_swingup", action_size=1, num_queries=16, head_hidden=(),
                                    mlp_hidden=(32, 16)),
    # Paper: 28 observations, M = 32, message 32, LSTM 8, a 32-unit tanh layer, 8 actions. Ours observes the
    # 27 numbers qpos[2:], qvel (no contact forces, as the PPO teacher of bench/configs.py "train_ant") and
    # re-shuffles them every 200 steps. Sensory policy 2472 parameters, MLP 27 -> 32 -> 32 -> 8: 2216.
    "ant": SensoryTask("ant", action_size=8, num_queries=32, head_hidden=(32,), mlp_hidden=(32, 32),
                       shuffle_every=200,
                       # the penalty contacts, as the teacher (bench/configs.py, "train_ant") and the README's results
                       env_kwargs=(("include_cfrc_ext_in_observation", False), ("solver", "penalty"))),
}


def task_of(name: str) -> SensoryTask:
    """The `SensoryTask` called `name`; raises `ValueError` listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"no sensory-neuron task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def condition_env(task: SensoryTask, condition: str, episode_length: int | None = None) -> Env:
    """The unbatched, time-limited environment of one evaluation condition."""
    base = task.base_env(episode_length)
    if condition == "unshuffled":
        return base
    if condition == "shuffled":
        return with_observation_transforms(base, shuffle=True, reshuffle_every=task.shuffle_every)
    if condition == "reshuffle_25":
        return with_observation_transforms(base, reshuffle_every=task.reshuffle_every)
    if condition == "noise":
        return with_observation_transforms(base, shuffle=True, reshuffle_every=task.shuffle_every,
                                           noise_channels=task.noise_channels, noise_std=task.noise_std)
    raise ValueError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}")


def save_params(path: pathlib.Path, params, meta: dict | None = None) -> None:
    """Writes a haiku parameter dict and JSON metadata to the directory `path` (`agents.checkpoint.save_params`:
    simlab's one save format, orbax with checksums; replaced atomically)."""
    checkpoint.save_params(path, params, meta or {})


def load_params(path: pathlib.Path):
    """Reads `save_params` output: `(params, meta)`, the parameters as JAX arrays."""
    try:
        params, meta = checkpoint.load_params(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no trained parameters at {path}; run `simlab sensory train TASK` first") from None
    return jax.tree_util.tree_map(jax.numpy.asarray, params), meta


def params_path(task_name: str, agent: str) -> pathlib.Path:
    """Where the shipped parameters of `agent` ('sensory' or 'mlp') on `task_name` live."""
    return PARAMS_DIR / f"{task_name}_{agent}"


def params_file(directory, stem: str, agent: str):
    """`directory/<stem>_<agent>` (a `save_params` directory): where `train` writes, and `eval` and `--init-from`
    read, parameters."""
    return pathlib.Path(directory) / f"{stem}_{agent}"


def init_file(args, agent: str):
    """The file `--init-from STEM` names for `agent`: `STEM_<agent>` in the output directory if it is
    there, else among the shipped parameters."""
    mine = params_file(args.out_dir, args.init_from, agent)
    return mine if mine.exists() else params_file(PARAMS_DIR, args.init_from, agent)
