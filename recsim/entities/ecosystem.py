"""Entities of the provider ecosystem (users, viable-provider corpus, recommender, metrics).

The model (Mladenov et al. 2021, ecosystem study), in our words:
  * Providers sit at `provider_means: [P, T]` in a `T`-dimensional topic space.
  * Users have static interests from a Gaussian mixture over providers, with
    logits `-log(1 + |mu_p|)` and scales `interest_scale / (1 + |mu_p|)`, so
    users crowd near the origin.
  * Each step the corpus offers `num_docs` documents; each comes from provider
    `p` with probability proportional to `(1 + c_p)^gamma` (`c_p`: discounted
    click count, `c <- discount * c + clicks`), with features `N(mu_p, doc_scale^2 I)`.
  * The recommender scores `-|u - d| + 2 + boost_p` and shows the top
    `slate_size`; `boost_p = clip(mean_q pulls_q - pulls_p, +-boost_cap)` where
    pulls are all clicks a provider ever got (`boost_cap = 0` is the myopic policy).
  * A user picks by multinomial logit on `-|u - d| + 2` and gets utility
    `N(-|u - d| + 2, utility_scale^2)`.
All populations are batched: users `[U]`, documents `[D]`, providers `[P]`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.engine.distributions import GaussianMixture, Normal
from simlab.engine.struct import pytree_dataclass, static_field
from simlab.recsim import affinities, choice

AFFINITY_OFFSET = 2.0  # the "+ 2" that keeps typical affinities positive


def _clicks_per_provider(response, slate, num_providers):
    """`[P]` number of users whose choice came from each provider."""
    provider = choice.chosen(slate["provider_id"], response["choice"])
    return jax.ops.segment_sum(jnp.ones_like(provider, jnp.float32), provider,
                               num_segments=num_providers)


@pytree_dataclass
class ClusteredUsers:
    """Users with static interests `[U, T]` drawn from a provider-centred Gaussian mixture."""

    provider_means: jax.Array  # [P, T]
    interest_scale: jax.Array  # scalar
    utility_scale: jax.Array  # scalar
    num_users: int = static_field(default=2000)

    @classmethod
    def from_config(cls, config):
        return cls(jnp.asarray(config["provider_means"], jnp.float32),
                   jnp.float32(config.get("interest_scale", 20.5)),
                   jnp.float32(config.get("utility_scale", 1.0)), int(config["num_users"]))

    def interest_distribution(self) -> GaussianMixture:
        norms = 1.0 + jnp.linalg.norm(self.provider_means, axis=-1)  # [P]
        batch = (self.num_users,) + norms.shape
        return GaussianMixture(-jnp.log(norms),  # shared by all users
                               jnp.broadcast_to(self.provider_means, batch + self.provider_means.shape[-1:]),
                               jnp.broadcast_to(self.interest_scale / norms, batch))

    def initial_state(self, ctx):
        interests = ctx.draw("interests", self.interest_distribution())
        return {"interests": interests, "utility": jnp.zeros((self.num_users,), jnp.float32)}

    def next_state(self, ctx, previous_state, previous_response, previous_slate):
        interests = previous_state["interests"]
        chosen_features = choice.chosen(previous_slate["features"], previous_response["choice"])
        affinity = affinities.negative_euclidean(interests, chosen_features[:, None, :])[:, 0]
        utility = ctx.draw("utility", Normal(affinity + AFFINITY_OFFSET, self.utility_scale))
        return {"interests": interests, "utility": utility}

    def observation(self, user_state):
        return {"interests": user_state["interests"]}  # interests are fully observed

    def response(self, ctx, user_state, slate):
        logits = affinities.negative_euclidean(user_state["interests"], slate["features"])
        return {"choice": ctx.draw("choice", choice.multinomial_logit(logits + AFFINITY_OFFSET))}


@pytree_dataclass
class ViableCorpus:
    """Documents `[D]` from providers chosen in proportion to `(1 + clicks)^gamma`."""

    provider_means: jax.Array  # [P, T]
    gamma: jax.Array
    discount: jax.Array
    doc_scale: jax.Array
    num_docs: int = static_field(default=400)

    @classmethod
    def from_config(cls, config):
        return cls(jnp.asarray(config["provider_means"], jnp.float32),
                   jnp.float32(config.get("gamma", 2.0)), jnp.float32(config.get("discount", 0.96)),
                   jnp.float32(config.get("doc_scale", 1.0)), int(config["num_docs"]))

    @property
    def num_providers(self) -> int:
        return self.provider_means.shape[0]

    def initial_state(self, ctx):
        return {"click_count": jnp.zeros((self.num_providers,), jnp.float32)}

    def next_state(self, ctx, previous_state, previous_response, previous_slate):
        clicks = _clicks_per_provider(previous_response, previous_slate, self.num_providers)
        return {"click_count": self.discount * previous_state["click_count"] + clicks}

    def available_documents(self, ctx, corpus_state):
        logits = self.gamma * jnp.log1p(corpus_state["click_count"])  # [P]
        batch = (self.num_docs, self.num_providers)
        mixture = GaussianMixture(logits,  # shared by all documents
                                  jnp.broadcast_to(self.provider_means, batch + self.provider_means.shape[-1:]),
                                  jnp.broadcast_to(self.doc_scale, batch))
        provider_id, features = ctx.draw_all(("provider_id", "features"), mixture)
        return {"provider_id": provider_id, "features": features}


@pytree_dataclass
class ProviderAwareRecommender:
    """Top-`slate_size` documents per user by affinity plus a capped provider boost.

    `boost_cap = 0` gives the myopic recommender. The cap is a leaf, so myopic
    and provider-aware runs can be vmapped together.
    """

    boost_cap: jax.Array
    num_providers: int = static_field(default=80)
    slate_size: int = static_field(default=3)

    @classmethod
    def from_config(cls, config):
        return cls(jnp.float32(config.get("boost_cap", 0.0)), int(config["num_providers"]),
                   int(config["slate_size"]))

    def initial_state(self, ctx):
        return {"provider_pulls": jnp.zeros((self.num_providers,), jnp.float32)}

    def next_state(self, ctx, previous_state, previous_response, previous_slate):
        clicks = _clicks_per_provider(previous_response, previous_slate, self.num_providers)
        return {"provider_pulls": previous_state["provider_pulls"] + clicks}

    def scores(self, recommender_state, user_observation, documents):
        """`[U, D]` ranking scores."""
        pulls = recommender_state["provider_pulls"]
        boost = jnp.clip(jnp.mean(pulls) - pulls, -self.boost_cap, self.boost_cap)
        affinity = affinities.negative_euclidean(user_observation["interests"], documents["features"])
        return affinity + AFFINITY_OFFSET + boost[documents["provider_id"]]

    def slate(self, ctx, recommender_state, user_observation, documents):
        scores = self.scores(recommender_state, user_observation, documents)
        _, doc_index = jax.lax.top_k(scores, self.slate_size)  # [U, k]
        return {"doc_index": doc_index.astype(jnp.int32),
                "provider_id": documents["provider_id"][doc_index],
                "features": documents["features"][doc_index]}


@pytree_dataclass
class UtilityMetrics:
    """Per-user reward (= realised utility) and its running sum, plus per-provider clicks."""

    num_users: int = static_field(default=2000)
    num_providers: int = static_field(default=80)

    @classmethod
    def from_config(cls, config):
        return cls(int(config["num_users"]), int(config["num_providers"]))

    def initial_metrics(self, ctx, user_state, response, slate):
        zeros = jnp.zeros((self.num_users,), jnp.float32)
        return {"reward": zeros, "cumulative_reward": zeros,
                "provider_clicks": _clicks_per_provider(response, slate, self.num_providers)}

    def next_metrics(self, ctx, previous_metrics, user_state, response, slate):
        reward = user_state["utility"]
        return {"reward": reward,
                "cumulative_reward": previous_metrics["cumulative_reward"] + reward,
                "provider_clicks": _clicks_per_provider(response, slate, self.num_providers)}
