"""simlab environments: registry, gymnasium adapters and task families.

    from simlab import envs
    env = envs.make("cartpole_swingup")                  # unbatched engine.Env
    batch = envs.make("cartpole_swingup", num_envs=4096)  # vmapped + auto-reset
    envs.names()

Importing `envs` also registers every environment with gymnasium as
`simlab/<Name>-v0`, e.g. `gymnasium.make("simlab/CartPoleSwingUp-v0")`.
"""
from simlab.envs.registry import UnknownEnvironmentError, entry, make, names, register
from simlab.envs.classic.cartpole import CartPole
from simlab.envs.classic.cartpole_swingup import CartPoleSwingUp
from simlab.envs.classic.pendulum import Pendulum, balance_pendulum
from simlab.envs.classic.pong import Pong, pong_state
from simlab.envs.navigation.goal_navigation import GoalNavigation
from simlab.envs.navigation.rendezvous import Rendezvous

register("cartpole", CartPole, gym_name="CartPole")
register("cartpole_swingup", CartPoleSwingUp, gym_name="CartPoleSwingUp")
register("pendulum", Pendulum, gym_name="Pendulum")
register("pendulum_balance", balance_pendulum, gym_name="PendulumBalance")
register("pong", Pong, gym_name="Pong")
register("pong_state", pong_state, gym_name="PongState")
register("goal_navigation", GoalNavigation, gym_name="GoalNavigation")
register("rendezvous", Rendezvous, gym_name="Rendezvous", gym=False)

__all__ = ["make", "names", "register", "entry", "UnknownEnvironmentError"]
import simlab.envs.recommendation  # noqa: E402,F401  (registers slate_recommendation)

# --- locomotion and reaching (engine.physics, gymnasium v5 semantics) ---
from simlab.envs.locomotion import Ant, HalfCheetah, Hopper, Humanoid, Reacher, Walker2d  # noqa: E402

register("ant", Ant, gym_name="Ant")
register("halfcheetah", HalfCheetah, gym_name="HalfCheetah")
register("humanoid", Humanoid, gym_name="Humanoid")
register("hopper", Hopper, gym_name="Hopper")
register("walker2d", Walker2d, gym_name="Walker2d")
register("reacher", Reacher, gym_name="Reacher")
# --- end locomotion ---

# --- manipulation (grasp, fetch, ur5e): envs/manipulation/ ---
from simlab.envs.manipulation import Fetch, Grasp, UR5e  # noqa: E402

register("grasp", Grasp, gym_name="Grasp")
register("fetch", Fetch, gym_name="Fetch")
register("ur5e", UR5e, gym_name="UR5e")
# --- end manipulation ---

# The gymnasium layer: adds every entry above, and each one registered later, as simlab/<Name>-v0.
from simlab.envs import gym_registration  # noqa: E402,F401
