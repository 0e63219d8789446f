"""The plug-in's public workflow, for any row of `tasks.TASKS`: demos -> fit -> evaluate -> save/load.

    from simlab.plugins.ibc import pipeline
    demos = pipeline.make_demos("particle", {"dim": 2}, num_episodes=2000, seed=0)
    trained = pipeline.fit_model("particle", {"dim": 2}, "ebm_langevin", demos, seed=0)
    result = pipeline.evaluate_trained("particle", {"dim": 2}, trained, episodes=100)   # result["success_rate"]
    pipeline.save_model(out_dir, "particle", {"dim": 2}, trained)                      # OUT/particle_dim2/ebm_langevin/
    models = pipeline.load_models("particle", {"dim": 2}, ["mse"])                      # the shipped parameters

`task` is a `tasks.Task` or its name; `options` the env options (`{"dim": N}` for the particle). Configs
and training settings default to the task's recipe (`Task.recipe`). Everything is seeded by explicit
integers: demos by `seed` (`demos.demo_keys`), training by `seed`, evaluation episodes by
`first_seed + i`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

import jax
import numpy as np

from simlab.plugins.ibc.artifacts import PARAMS_DIR, Trained, load_trained, save_trained
from simlab.plugins.ibc.demos import Demos, generate_demos
from simlab.plugins.ibc.evaluate import evaluate_model
from simlab.plugins.ibc.models import check_model_name, make_model
from simlab.plugins.ibc.normalizer import fit_normalizer
from simlab.plugins.ibc.tasks import Task, get_task
from simlab.plugins.ibc.training import TrainConfig, train

HISTORY_ROWS = 40


class MissingParamsError(FileNotFoundError):
    """No trained parameters where they were looked for; the message names the command that trains them."""


def _task(task: Task | str) -> Task:
    return task if isinstance(task, Task) else get_task(task)


def make_demos(task: Task | str, options: dict[str, Any] | None = None, num_episodes: int | None = None,
               seed: int = 0) -> Demos:
    """Oracle demonstrations of `task` (default count: the recipe's `num_demos`)."""
    task = _task(task)
    options = task.resolve(options)
    env = task.env(options)
    num = int(num_episodes or task.recipe(options).num_demos)
    return generate_demos(env, task.make_oracle(env), num, seed, success_metric=task.success_metric,
                          meta={"env": task.name, "options": options})


def fit_model(task: Task | str, options: dict[str, Any] | None, name: str, demos: Demos, *, config: Any = None,
              train_config: TrainConfig | None = None, seed: int = 0, progress: bool = True,
              meta: dict[str, Any] | None = None) -> Trained:
    """Trains model `name` on the successful episodes of `demos`; returns a `Trained` (history in its meta).

    `config` / `train_config` default to the task's recipe for `options`.
    """
    task = _task(task)
    options = task.resolve(options)
    recipe = task.recipe(options)
    check_model_name(name)
    config = config if config is not None else recipe.configs[name]
    train_config = train_config if train_config is not None else recipe.train[name]
    obs, actions = demos.transitions()
    if len(obs) == 0:
        raise ValueError(f"the demonstrations hold no successful episode of {task.name}; nothing to learn from")
    normalizer = fit_normalizer(obs, actions)
    model = make_model(name, config, obs.shape[1], actions.shape[1])
    start = time.perf_counter()
    params, history = train(model, np.asarray(normalizer.obs(obs)), np.asarray(normalizer.action_to_unit(actions)),
                            train_config, jax.random.key(seed), progress=progress, desc=f"{task.tag(options)} {name}")
    seconds = time.perf_counter() - start
    stride = max(1, len(history) // HISTORY_ROWS)  # the record keeps about HISTORY_ROWS rows, and the last
    kept = history[stride - 1::stride] + ([history[-1]] if len(history) % stride else [])
    record = {"env": task.name, "options": options, "seed": int(seed), "steps": history[-1]["step"],
              "train_seconds": seconds, "train_config": dict(vars(train_config)), "final": history[-1],
              "history": kept, "demos": {k: v for k, v in demos.meta.items() if k != "options"},
              "transitions": int(len(obs)), **(meta or {})}
    return Trained(name, config, params, normalizer, record)


def evaluate_trained(task: Task | str, options: dict[str, Any] | None, trained: Trained, episodes: int = 100,
                     first_seed: int = 0, episodes_per_call: int | None = None) -> dict[str, Any]:
    """Success of `trained` over `episodes` seeded episodes (`evaluate.success_rate`'s dict)."""
    task = _task(task)
    options = task.resolve(options)
    env = task.env(options)
    if (trained.obs_size, trained.action_size) != (env.observation_size, env.action_size):
        raise ValueError(f"{trained.name} was trained for observations [{trained.obs_size}] and actions "
                         f"[{trained.action_size}], but {task.tag(options)} has [{env.observation_size}] and "
                         f"[{env.action_size}]")
    per_call = episodes_per_call or task.recipe(options).eval_batch
    return evaluate_model(env, trained.model(), trained.params, trained.normalizer, episodes, first_seed=first_seed,
                          success_metric=task.success_metric, episodes_per_call=per_call)


def model_dir(root: str | Path, task: Task | str, options: dict[str, Any] | None, name: str) -> Path:
    """`root/<task tag>/<name>`: where model `name` of `task` with `options` is saved under `root`."""
    task = _task(task)
    return Path(root) / task.tag(options) / check_model_name(name)


def save_model(root: str | Path, task: Task | str, options: dict[str, Any] | None, trained: Trained,
               half: bool = False) -> Path:
    """Saves `trained` to `model_dir(root, ...)` (replacing it; `half`: float16 weights, as shipped); returns
    the directory."""
    return save_trained(model_dir(root, task, options, trained.name), trained, half=half)


def load_models(task: Task | str, options: dict[str, Any] | None, names: Iterable[str],
                checkpoint: str | Path | None = None) -> dict[str, Trained]:
    """Loads models `names` from `checkpoint` (a `simlab ibc train --out` directory, or one of its
    `<task tag>` folders) or, without it, from the shipped parameters. Raises MissingParamsError naming the
    missing directory and the command that trains it."""
    task = _task(task)
    options = task.resolve(options)
    tag, loaded = task.tag(options), {}
    for name in names:
        if checkpoint is None:
            path = model_dir(PARAMS_DIR, task, options, name)
            hint = (f"no shipped parameters for {name} on {tag} ({path} is missing); train them with "
                    f"`simlab ibc train {task.name} {_option_args(task, options)} --models {name} --publish`, or "
                    "pass --checkpoint DIR (the --out of `simlab ibc train`)")
        else:
            candidates = [Path(checkpoint) / tag / name, Path(checkpoint) / name]
            path = next((p for p in candidates if p.is_dir()), candidates[0])
            hint = (f"no {name} parameters for {tag} under --checkpoint {checkpoint} (looked for "
                    f"{' and '.join(str(p) for p in candidates)}); train them with `simlab ibc train {task.name} "
                    f"{_option_args(task, options)} --models {name} --out {checkpoint}`")
        if not path.is_dir():
            raise MissingParamsError(hint)
        loaded[name] = load_trained(path)
    return loaded


def _option_args(task: Task, options: dict[str, Any]) -> str:
    """The command-line spelling of `options`, e.g. "--dim 2" or "--option multi_target=true"."""
    parts = []
    for key, value in sorted(options.items()):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        parts.append(f"--dim {text}" if key == "dim" else f"--option {key}={text}")
    return " ".join(parts)
