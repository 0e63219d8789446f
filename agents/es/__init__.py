"""Evolution strategies (evosax CMA-ES / OpenAI-ES / PGPE), population rollouts, behaviour cloning."""
from agents.es.bc import BCConfig, BehaviourCloning, make_behaviour_cloning
from agents.es.rollout import make_episode_returns, make_population_fitness
from agents.es.strategies import ES, STRATEGIES, ESConfig, ESState, make_es

__all__ = ["BCConfig", "BehaviourCloning", "make_behaviour_cloning", "make_episode_returns",
           "make_population_fitness", "ES", "STRATEGIES", "ESConfig", "ESState", "make_es"]
