"""Evolution strategies (evosax CMA-ES / OpenAI-ES / PGPE) and population rollouts."""
from simlab.agents.es.rollout import make_population_fitness
from simlab.agents.es.strategies import ES, STRATEGIES, ESConfig, ESState, make_es
from simlab.agents.evaluation import make_episode_returns  # the episodes ES fitness is made of

__all__ = ["make_episode_returns",
           "make_population_fitness", "ES", "STRATEGIES", "ESConfig", "ESState", "make_es"]
