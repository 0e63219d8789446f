"""Branch-free, differentiable rigid-body physics in generalized coordinates.

Public API:
  load_mjcf(path_or_xml, substeps=1) -> System
  init(sys, q, qd) -> State
  step(sys, state, ctrl) -> State
  dynamics_terms(sys, q, qd) -> {mass_matrix, bias, x_pos, com}
See docs/physics.md for the equations and limits.
"""
from simlab.engine.physics.collision import Contact
from simlab.engine.physics.mjcf import IGNORED_FEATURES, load_mjcf
from simlab.engine.physics.model import System
from simlab.engine.physics.pipeline import (BATCH_CHUNK, MULTI_DEVICE_CHUNK, State, batch_chunk, contact_geoms,
                                            dynamics_terms, init, step)

__all__ = ["BATCH_CHUNK", "MULTI_DEVICE_CHUNK", "batch_chunk", "Contact", "IGNORED_FEATURES", "State", "System", "contact_geoms", "dynamics_terms", "init", "load_mjcf", "step"]
