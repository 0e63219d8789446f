"""Affinities between users (targets) and items: larger means more attractive.

All functions take `targets: [..., D]` and `items: [..., N, D]` (broadcast over
the leading axes) and return `[..., N]`.
"""
from __future__ import annotations

import jax.numpy as jnp

_EPS = 1e-6


_UNROLL_FEATURES = 8  # up to this many features, sum per feature instead of building [..., N, D]


def _pairwise_difference(targets, items):
    return targets[..., None, :] - items


def squared_distance(targets, items):
    """`||u - d||^2`, `[..., N]`, without materialising the `[..., N, D]` differences for small D."""
    num_features = targets.shape[-1]
    if items.shape[-1] != num_features:
        raise ValueError(
            f"targets have {num_features} features but items have {items.shape[-1]}; "
            "both must live in the same feature space"
        )
    if num_features <= _UNROLL_FEATURES:
        return sum((targets[..., i, None] - items[..., i]) ** 2 for i in range(num_features))
    diff = _pairwise_difference(targets, items)
    return jnp.sum(diff * diff, axis=-1)


def dot(targets, items):
    """`<u, d>`."""
    return jnp.sum(targets[..., None, :] * items, axis=-1)


def negative_euclidean(targets, items):
    """`-||u - d||`."""
    return -jnp.sqrt(squared_distance(targets, items))


def inverse_euclidean(targets, items):
    """`1 / max(||u - d||, 1e-6)`."""
    return 1.0 / jnp.maximum(jnp.sqrt(squared_distance(targets, items)), _EPS)


def negative_cosine(targets, items):
    """Cosine similarity `<u, d> / (||u|| ||d||)` (the negated cosine *distance* minus 1)."""
    norms = jnp.linalg.norm(targets, axis=-1)[..., None] * jnp.linalg.norm(items, axis=-1)
    return dot(targets, items) / jnp.maximum(norms, _EPS)


def single_peaked(targets, items, peaks):
    """`sum_i (p_i - |p_i - u_i d_i|)`: per feature, highest when `u_i d_i` hits the peak `p_i`.

    `peaks: [..., D]`, broadcast like `targets`.
    """
    peaks = peaks[..., None, :]
    return jnp.sum(peaks - jnp.abs(peaks - targets[..., None, :] * items), axis=-1)


AFFINITIES = {
    "dot": dot,
    "negative_euclidean": negative_euclidean,
    "inverse_euclidean": inverse_euclidean,
    "negative_cosine": negative_cosine,
}


def by_name(name: str):
    """The affinity function called `name` (not `single_peaked`, which needs peaks)."""
    if name not in AFFINITIES:
        raise ValueError(f"unknown affinity {name!r}; choose one of {sorted(AFFINITIES)}")
    return AFFINITIES[name]
