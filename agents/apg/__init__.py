"""Analytic policy gradients through differentiable simulation: `make_apg(env_name, APGConfig(...))`."""
from simlab.agents.apg.agent import APG, APGConfig, APGState, make_apg

__all__ = ["APG", "APGConfig", "APGState", "make_apg"]
