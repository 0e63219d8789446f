"""simlab agents: learners that train in-process on any `engine.Env` through one driver (`agents.train`).

PPO, SAC, APG and ES are registered in `agents.registry`; behaviour cloning registers itself from
`agents.bc.learner` and the sensory-neuron recipes ("sensory_es", "sensory_bc", "pixel_bc") from
`agents.sensory.learners`, imported here so that `make_agent(...)` and `simlab train --agent ...` find them.
"""
from simlab.agents.bc import learner as _bc_learner  # noqa: F401  (registers the "bc" agent)
from simlab.agents.sensory import learners as _sensory_learners  # noqa: F401  (registers the sensory recipes)
