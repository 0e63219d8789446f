"""Every environment wrapper, one module per idea. Each wrapper is itself an `engine.Env`: pure,
jittable and free of `cond`/`while`; it never forwards unknown attributes (reach the inner environment
through `.env` or `.unwrapped`).

  core           Wrapper (base), TimeLimit, EpisodeStatistics, select_tree
  autoreset      AutoReset (fresh initial states redrawn in compacted batches, or cached)
  batch          VmapWrapper (vmap, chunks, split over devices), set_batch_mesh, wrap_for_training
  observation    NoiseChannels, ShuffleObservation, with_observation_transforms, unshuffled_observation,
                 inverse_permutation (flat observations [n])
  patches        PatchObservation ([H, W, C] -> [N, P*P*C]), ShufflePatches, OccludePatches,
                 with_patch_transforms, image_to_patches, patches_to_image
  shaping        ActionRatePenalty, strip_reward_shaping
  randomization  DomainRandomization (physics `System` parameters per episode), parameter_fields

Typical use: pass the unbatched ones to `envs.make(name, wrappers=[...])` (callables `env -> env`, e.g.
`functools.partial(ActionRatePenalty, weight=0.5)`), which applies them in order and then adds the time
limit, auto-reset and vmap of `core`:

    VmapWrapper(EpisodeStatistics(AutoReset(TimeLimit(ShuffleObservation(env), 1000))), num_envs=n)

`randomization` loads the physics engine, so its names are imported on first use.
"""
from __future__ import annotations

import importlib

from simlab.engine.wrappers.autoreset import AutoReset
from simlab.engine.wrappers.batch import VmapWrapper, set_batch_mesh, wrap_for_training
from simlab.engine.wrappers.core import EpisodeStatistics, TimeLimit, Wrapper, select_tree
from simlab.engine.wrappers.observation import (NoiseChannels, ShuffleObservation, inverse_permutation,
                                                unshuffled_observation, with_observation_transforms)
from simlab.engine.wrappers.patches import (OccludePatches, PatchObservation, ShufflePatches, image_to_patches,
                                            patches_to_image, random_subset, with_patch_transforms)
from simlab.engine.wrappers.shaping import REWARD_SHAPING_OPTIONS, ActionRatePenalty, strip_reward_shaping

# Names served lazily (PEP 562): `randomization` imports `engine.physics` (and MuJoCo's compiler with it),
# which `import simlab.engine` does not otherwise need.
_LAZY = {"DomainRandomization": "randomization", "parameter_fields": "randomization"}

__all__ = [
    "Wrapper", "TimeLimit", "AutoReset", "EpisodeStatistics", "VmapWrapper", "set_batch_mesh", "wrap_for_training",
    "select_tree",
    "NoiseChannels", "ShuffleObservation", "inverse_permutation", "unshuffled_observation",
    "with_observation_transforms",
    "PatchObservation", "ShufflePatches", "OccludePatches", "image_to_patches", "patches_to_image", "random_subset",
    "with_patch_transforms",
    "ActionRatePenalty", "REWARD_SHAPING_OPTIONS", "strip_reward_shaping",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
