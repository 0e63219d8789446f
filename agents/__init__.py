"""simlab agents: learners that train in-process on any `engine.Env` through one driver (`agents.train`).

PPO, SAC, APG and ES are registered in `agents.registry`; behaviour cloning registers itself from
`agents.bc.learner`, imported here so that `make_agent("bc", ...)` and `simlab train --agent bc` find it.
"""
from simlab.agents.bc import learner as _bc_learner  # noqa: F401  (registers the "bc" agent)
