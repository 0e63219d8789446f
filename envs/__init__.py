"""simlab environments: registry, gymnasium adapters and task families.

    import envs
    env = envs.make("cartpole_swingup")                  # unbatched engine.Env
    batch = envs.make("cartpole_swingup", num_envs=4096)  # vmapped + auto-reset
    envs.names()

Importing `envs` also registers every environment with gymnasium as
`simlab/<Name>-v0`, e.g. `gymnasium.make("simlab/CartPoleSwingUp-v0")`.
"""
from envs.registry import UnknownEnvironmentError, entry, make, names, register
from envs.classic.cartpole_swingup import CartPoleSwingUp
from envs.classic.pendulum import Pendulum, balance_pendulum
from envs.navigation.goal_navigation import GoalNavigation
from envs.navigation.rendezvous import Rendezvous

register("cartpole_swingup", CartPoleSwingUp, gym_name="CartPoleSwingUp")
register("pendulum", Pendulum, gym_name="Pendulum")
register("pendulum_balance", balance_pendulum, gym_name="PendulumBalance")
register("goal_navigation", GoalNavigation, gym_name="GoalNavigation")
register("rendezvous", Rendezvous, gym_name="Rendezvous", gym=False)

__all__ = ["make", "names", "register", "entry", "UnknownEnvironmentError"]
import envs.recommendation  # noqa: E402,F401  (registers slate_recommendation)
