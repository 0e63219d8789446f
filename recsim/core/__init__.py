"""Core of recsim: values, variables, networks and the scan runtime."""
from simlab.recsim.core.network import DependencyCycleError, Network
from simlab.recsim.core.runtime import Runtime
from simlab.recsim.core.value import FieldSpec, check_value, spec_of
from simlab.recsim.core.variable import Context, Definition, Previous, Variable, previous

__all__ = [
    "Context", "Definition", "DependencyCycleError", "FieldSpec", "Network", "Previous",
    "Runtime", "Variable", "check_value", "previous", "spec_of",
]
