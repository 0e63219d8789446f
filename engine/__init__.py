"""simlab's branch-free simulation core: env protocol, wrappers, rollouts, sharding.

Public API (see each module for details):
  Env, State, initial_state         -- `engine.env`
  BoxSpec, DiscreteSpec             -- `engine.specs`
  TimeLimit, AutoReset, EpisodeStatistics, VmapWrapper, wrap_for_training
                                    -- `engine.wrappers`
  make_rollout, Transition, uniform_policy  -- `engine.rollout`
  use_all_cpu_cores, batch_devices  -- `engine.devices` (one CPU device per core; which devices a batch uses)
  sharding (module), debug (module), cache (module)
"""
from simlab.engine import branchfree, cache, debug, sharding
from simlab.engine.devices import batch_devices, use_all_cpu_cores
from simlab.engine.env import Env, State, initial_state
from simlab.engine.rollout import Transition, make_rollout, uniform_policy
from simlab.engine.specs import BoxSpec, DiscreteSpec
from simlab.engine.struct import pytree_dataclass, static_field
from simlab.engine.wrappers import (AutoReset, EpisodeStatistics, TimeLimit, VmapWrapper, Wrapper, select_tree,
                                    wrap_for_training)

__all__ = [
    "Env", "State", "initial_state", "BoxSpec", "DiscreteSpec", "pytree_dataclass", "static_field",
    "Wrapper", "TimeLimit", "AutoReset", "EpisodeStatistics", "VmapWrapper", "wrap_for_training",
    "select_tree", "make_rollout", "Transition", "uniform_policy", "sharding", "debug", "cache", "branchfree",
    "use_all_cpu_cores", "batch_devices",
]
