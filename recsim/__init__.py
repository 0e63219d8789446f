"""recsim: a RecSim NG-style probabilistic simulator of recommender ecosystems, in JAX.

Layers: `recsim.core` (values, variables, networks, runtime), distributions (from
`simlab.engine.distributions`, shared with the agents), behaviour blocks (`choice`,
`affinities`, `state_models`), `recsim.entities`, `recsim.stories`, `recsim.inference`
(MLE, HMC) and `recsim.apps`.
"""
from simlab.recsim.core import (Context, Definition, DependencyCycleError, FieldSpec, Network, Runtime,
                                Variable, previous)

__all__ = ["Context", "Definition", "DependencyCycleError", "FieldSpec", "Network", "Runtime",
           "Variable", "previous"]
