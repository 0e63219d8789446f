"""Behaviour cloning: a recurrent student learns a teacher's actions on the states it visits itself (DAgger)."""
from simlab.agents.bc.dagger import BCConfig, BehaviourCloning, make_behaviour_cloning

__all__ = ["BCConfig", "BehaviourCloning", "make_behaviour_cloning"]
