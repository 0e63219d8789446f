"""Hierarchical predictive planning (HPP) for decentralized multi-agent rendezvous.

Modules: `cem` (cross-entropy planner over candidate goals). The learned
predictors, the planner loop in the environment and the baselines build on it.
"""
from simlab.agents.hpp.cem import Belief, cem_plan, init_belief

__all__ = ["Belief", "cem_plan", "init_belief"]
