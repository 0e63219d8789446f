"""MJCF locomotion and reaching tasks on `engine.physics`, with gymnasium v5 semantics.

    env = envs.make("ant")                     # or halfcheetah, humanoid, hopper, walker2d, reacher
    env.unwrapped.mjcf_path                    # the model file (for renderers)
    state.sim.q                                # MuJoCo qpos

Every module's docstring has a table of the observation, action, reward terms, termination,
reset and every difference from the corresponding gymnasium `*-v5` task.
"""
from simlab.envs.locomotion.ant import Ant, AntParams
from simlab.envs.locomotion.halfcheetah import HalfCheetah, HalfCheetahParams
from simlab.envs.locomotion.hopper import Hopper, HopperParams
from simlab.envs.locomotion.humanoid import Humanoid, HumanoidParams
from simlab.envs.locomotion.reacher import Reacher, ReacherParams
from simlab.envs.locomotion.walker2d import Walker2d, Walker2dParams

__all__ = ["Ant", "AntParams", "HalfCheetah", "HalfCheetahParams", "Hopper", "HopperParams", "Humanoid",
           "HumanoidParams", "Reacher", "ReacherParams", "Walker2d", "Walker2dParams"]
