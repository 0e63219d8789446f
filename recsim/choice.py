"""Choice models: how a user picks from a slate, as distributions over slate positions."""
from __future__ import annotations

import jax.numpy as jnp

from simlab.engine.distributions import Categorical, PlackettLuce


def multinomial_logit(affinities, no_choice_logit=None, positional_bias=None) -> Categorical:
    """Pick one slate item with probability `softmax(affinities + positional_bias)`.

    Args:
      affinities: `[..., slate_size]` utilities of the slate items.
      no_choice_logit: optional scalar or `[...]` logit of choosing nothing;
        when given, the categorical has `slate_size + 1` outcomes and the last
        index (`slate_size`) means "no choice".
      positional_bias: optional `[slate_size]` additive logit per slate position
        (e.g. `-0.5 * arange(k)` for a bias towards the top).

    Returns:
      A `Categorical` over slate positions (plus the no-choice outcome).
    """
    logits = jnp.asarray(affinities, jnp.float32)
    if positional_bias is not None:
        bias = jnp.asarray(positional_bias, jnp.float32)
        if bias.shape != logits.shape[-1:]:
            raise ValueError(
                f"positional_bias has shape {bias.shape}, expected ({logits.shape[-1]},): one "
                "logit offset per slate position"
            )
        logits = logits + bias
    if no_choice_logit is not None:
        no_choice = jnp.broadcast_to(jnp.asarray(no_choice_logit, jnp.float32), logits.shape[:-1])
        logits = jnp.concatenate([logits, no_choice[..., None]], axis=-1)
    return Categorical(logits)


def iterated_multinomial_logit(affinities, num_choices: int) -> PlackettLuce:
    """Pick `num_choices` distinct items in order, each by a multinomial logit over the rest.

    `affinities: [..., num_items]`; samples are `[..., num_choices]` indices.
    """
    num_items = jnp.shape(affinities)[-1]
    if not 1 <= num_choices <= num_items:
        raise ValueError(f"num_choices must be in [1, {num_items}], got {num_choices}")
    return PlackettLuce(jnp.asarray(affinities, jnp.float32), slate_size=int(num_choices))


def chosen(items, choice, no_choice_fill=0.0):
    """Gather the chosen slate item: `items: [..., slate, *F]`, `choice: [...]` -> `[..., *F]`.

    A no-choice index (== slate size) yields `no_choice_fill`.
    """
    slate_size = items.shape[choice.ndim]
    safe = jnp.minimum(choice, slate_size - 1)
    index = safe.reshape(safe.shape + (1,) * (items.ndim - choice.ndim))
    picked = jnp.take_along_axis(items, index, axis=choice.ndim)
    picked = jnp.squeeze(picked, axis=choice.ndim)
    mask = (choice < slate_size).reshape(choice.shape + (1,) * (picked.ndim - choice.ndim))
    return jnp.where(mask, picked, jnp.asarray(no_choice_fill, picked.dtype))
