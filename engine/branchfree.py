"""Checks that a traced function is branch-free (no `cond`, `while`, `switch`).

    engine.branchfree.assert_branch_free(env.step, state, action)

Walks the jaxpr of `fn` and every sub-jaxpr (scan bodies, pjit, custom_jvp, ...).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import jax
import jax.extend.core

BRANCHING_PRIMITIVES = frozenset({"cond", "while", "switch"})


def _sub_jaxprs(value: Any) -> Iterator[Any]:
    if isinstance(value, jax.extend.core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jax.extend.core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def primitive_names(fn: Callable, *args: Any, **kwargs: Any) -> set[str]:
    """Names of all primitives in the jaxpr of `fn(*args, **kwargs)`, recursively."""
    closed = jax.make_jaxpr(fn)(*args, **kwargs)
    names: set[str] = set()
    stack = [closed.jaxpr]
    while stack:
        jaxpr = stack.pop()
        for eqn in jaxpr.eqns:
            names.add(eqn.primitive.name)
            for param in eqn.params.values():
                stack.extend(_sub_jaxprs(param))
    return names


def assert_branch_free(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Raises AssertionError naming any `cond`/`while`/`switch` in `fn`'s jaxpr."""
    found = primitive_names(fn, *args, **kwargs) & BRANCHING_PRIMITIVES
    if found:
        raise AssertionError(f"{getattr(fn, '__qualname__', fn)} is not branch-free: its jaxpr contains {sorted(found)}")
