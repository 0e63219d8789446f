"""Manipulation and goal-directed tasks on `engine.physics`: grasp, fetch, ur5e.

Models are written in-repo (`assets/*.xml`) using only what our MJCF loader supports.
"""
from simlab.envs.manipulation.fetch import Fetch, FetchParams
from simlab.envs.manipulation.grasp import Grasp, GraspParams
from simlab.envs.manipulation.ur5e import UR5e, UR5eParams

__all__ = ["Fetch", "FetchParams", "Grasp", "GraspParams", "UR5e", "UR5eParams"]
