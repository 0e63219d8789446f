"""Observation and action specifications: shape, dtype and bounds.

Specs are plain Python (NumPy) objects, so they are known before tracing and
can be turned into `gymnasium.spaces` by the adapters in `envs.gym`.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class BoxSpec:
    """A real-valued array in `[low, high]` (bounds may be infinite).

    Attributes:
      shape: array shape, e.g. `(5,)`.
      dtype: NumPy dtype, e.g. `np.float32`.
      low, high: broadcastable to `shape`; `-inf`/`inf` for unbounded.
    """

    shape: tuple[int, ...]
    dtype: np.dtype = np.dtype(np.float32)
    low: np.ndarray | float = -np.inf
    high: np.ndarray | float = np.inf

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        low = np.broadcast_to(np.asarray(self.low, dtype=self.dtype), self.shape).copy()
        high = np.broadcast_to(np.asarray(self.high, dtype=self.dtype), self.shape).copy()
        if np.any(low > high):
            raise ValueError(f"BoxSpec low must be <= high, got low={low}, high={high}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclasses.dataclass(frozen=True)
class DiscreteSpec:
    """An integer in `[0, num_values)`; shape `()`."""

    num_values: int
    dtype: np.dtype = np.dtype(np.int32)

    def __post_init__(self):
        if self.num_values < 1:
            raise ValueError(f"DiscreteSpec needs num_values >= 1, got {self.num_values}")
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    @property
    def size(self) -> int:
        return 1


Spec = BoxSpec | DiscreteSpec
