"""Stories: functions that wire entities into a `Network`.

`recommendation_story` is the standard user / corpus / recommender / metrics
loop. Entities are built by constructors passed as arguments, so any one of
them can be swapped. An entity is any object with these methods (each `ctx`
is the variable's `Context`; all values are dicts of population-batched arrays):

  corpus:       initial_state(ctx); next_state(ctx, previous_state, previous_response,
                previous_slate); available_documents(ctx, corpus_state)
  user:         initial_state(ctx); next_state(ctx, previous_state, previous_response,
                previous_slate); observation(user_state); response(ctx, user_state, slate)
  recommender:  initial_state(ctx); next_state(ctx, previous_state, previous_response,
                previous_slate); slate(ctx, recommender_state, user_observation, documents)
  metrics:      initial_metrics(ctx, user_state, response, slate);
                next_metrics(ctx, previous_metrics, user_state, response, slate)

Timing: at step t the corpus offers documents from its state, the recommender
builds a slate from its state and the user observation, and users respond;
states at t + 1 absorb the response and slate of step t (so the utility of the
choice made at t appears in the user state at t + 1).
"""
from __future__ import annotations

from typing import Any, Callable

from simlab.recsim.core import Network, Variable, previous

Constructor = Callable[[dict], Any]


def recommendation_story(config: dict, user_ctor: Constructor, corpus_ctor: Constructor,
                         recommender_ctor: Constructor, metrics_ctor: Constructor) -> Network:
    """Build the recommendation network from entity constructors (each called with `config`)."""
    user, corpus = user_ctor(config), corpus_ctor(config)
    recommender, metrics = recommender_ctor(config), metrics_ctor(config)
    prev_loop = [previous("user_response"), previous("slate")]
    variables = [
        Variable("corpus_state", initial=corpus.initial_state,
                 step=(corpus.next_state, [previous("corpus_state"), *prev_loop])),
        Variable("available_docs",
                 initial=(corpus.available_documents, ["corpus_state"]),
                 step=(corpus.available_documents, ["corpus_state"])),
        Variable("user_state", initial=user.initial_state,
                 step=(user.next_state, [previous("user_state"), *prev_loop])),
        Variable("recommender_state", initial=recommender.initial_state,
                 step=(recommender.next_state, [previous("recommender_state"), *prev_loop])),
        Variable("slate",
                 initial=(lambda ctx, r, u, d: recommender.slate(ctx, r, user.observation(u), d),
                          ["recommender_state", "user_state", "available_docs"]),
                 step=(lambda ctx, r, u, d: recommender.slate(ctx, r, user.observation(u), d),
                       ["recommender_state", "user_state", "available_docs"])),
        Variable("user_response",
                 initial=(user.response, ["user_state", "slate"]),
                 step=(user.response, ["user_state", "slate"])),
        Variable("metrics",
                 initial=(metrics.initial_metrics, ["user_state", "user_response", "slate"]),
                 step=(metrics.next_metrics,
                       [previous("metrics"), "user_state", "user_response", "slate"])),
    ]
    return Network(variables)
