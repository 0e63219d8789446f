"""Recommendation environments over `recsim` models; importing registers them.

`import envs.recommendation` registers `slate_recommendation`
(gymnasium: `simlab/SlateRecommendation-v0`).
"""
from simlab.envs.recommendation.slate import SlateRecommendation
from simlab.envs.registry import register

register("slate_recommendation", SlateRecommendation, gym_name="SlateRecommendation")

__all__ = ["SlateRecommendation"]
