"""Soft actor-critic: `make_sac(env_name, SACConfig(...))`."""
from simlab.agents.sac.agent import SAC, SACConfig, SACState, make_sac

__all__ = ["SAC", "SACConfig", "SACState", "make_sac"]
