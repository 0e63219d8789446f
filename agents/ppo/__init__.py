"""Proximal policy optimization: `make_ppo(env_name, PPOConfig(...))`."""
from agents.ppo.config import PPOConfig
from agents.ppo.agent import PPO, PPOState, make_ppo

__all__ = ["PPOConfig", "PPO", "PPOState", "make_ppo"]
