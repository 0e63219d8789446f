"""A network of variables: validation and topological ordering.

The initial definitions and the step definitions each form a graph over
*current* dependencies (previous-step dependencies never create a cycle, they
read the carried state). Both graphs must be acyclic; the order is stable
(declaration order breaks ties) so runs are reproducible.
"""
from __future__ import annotations

from typing import Sequence

from simlab.recsim.core.variable import Previous, Variable


class DependencyCycleError(ValueError):
    """Raised when current-step dependencies form a cycle."""


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle `[a, b, ..., a]` in `graph` (name -> names it reads), or None."""
    state: dict[str, int] = {}  # 1 = on the DFS stack, 2 = finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph[node]:
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def _topological_order(graph: dict[str, list[str]], phase: str) -> tuple[str, ...]:
    cycle = _find_cycle(graph)
    if cycle:
        raise DependencyCycleError(
            f"the {phase} definitions have a dependency cycle: {' -> '.join(cycle)}; "
            "break it by making one of these dependencies previous('name')."
        )
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(graph):
        for name, deps in graph.items():  # declaration order breaks ties
            if name not in placed and all(d in placed for d in deps):
                order.append(name)
                placed.add(name)
                break
    return tuple(order)


class Network:
    """Validated variables with their initial and step evaluation orders.

    Attributes:
      variables: dict name -> Variable, in declaration order.
      initial_order, step_order: names in a valid evaluation order.
    """

    def __init__(self, variables: Sequence[Variable]):
        variables = list(variables)
        self.variables: dict[str, Variable] = {}
        for var in variables:
            if not isinstance(var, Variable):
                raise TypeError(f"Network takes Variable objects, got {type(var).__name__}")
            if var.name in self.variables:
                raise ValueError(f"two variables are named {var.name!r}; names must be unique")
            self.variables[var.name] = var
        initial_graph, step_graph = {}, {}
        for var in variables:
            for phase, definition in (("initial", var.initial), ("step", var.step)):
                if definition is None:
                    continue
                for dep in definition.dependencies:
                    dep_name = dep.name if isinstance(dep, Previous) else dep
                    if dep_name not in self.variables:
                        raise ValueError(
                            f"variable {var.name!r}: the {phase} definition depends on unknown "
                            f"variable {dep_name!r}; known: {sorted(self.variables)}."
                        )
            initial_graph[var.name] = list(var.initial.dependencies)
            step_graph[var.name] = [
                d for d in (var.step.dependencies if var.step else ()) if isinstance(d, str)
            ]
        self.initial_order = _topological_order(initial_graph, "initial")
        self.step_order = _topological_order(step_graph, "step")

    @property
    def names(self) -> tuple[str, ...]:
        """Variable names in declaration order."""
        return tuple(self.variables)

    def __repr__(self) -> str:
        return f"Network({list(self.variables)})"
