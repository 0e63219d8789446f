"""Proximal policy optimization: `make_ppo(env_name, PPOConfig(...))`."""
from simlab.agents.ppo.config import PPOConfig
from simlab.agents.ppo.agent import PPO, PPOState, make_ppo

__all__ = ["PPOConfig", "PPO", "PPOState", "make_ppo"]
