"""The ecosystem study: myopic vs provider-aware recommendation, many runs in one program.

`run_study` builds the ecosystem story once per policy (the policy is a leaf,
the boost cap), vmaps the whole simulation over `[num_policies x num_runs]`
keys, and keeps only per-step summaries: mean user utility and the
Herfindahl-Hirschman index (HHI, sum of squared shares) of provider clicks.
Runs of the two policies share random keys (common random numbers).
"""
from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import io
from simlab.recsim.core import Runtime
from simlab.recsim.entities import ClusteredUsers, ProviderAwareRecommender, UtilityMetrics, ViableCorpus
from simlab.recsim.stories import recommendation_story

POLICIES = {"myopic": 0.0, "provider_aware": 1.2}


def provider_means(key, num_clusters=40, providers_per_cluster=2, num_topics=2,
                   cluster_variance=64.0, provider_variance=0.5) -> jax.Array:
    """`[num_clusters * providers_per_cluster, num_topics]` provider positions.

    Cluster centres ~ N(0, cluster_variance I); providers ~ centre + N(0, provider_variance I).
    """
    centre_key, offset_key = jax.random.split(key)
    centres = jnp.sqrt(cluster_variance) * jax.random.normal(centre_key, (num_clusters, num_topics))
    offsets = jnp.sqrt(provider_variance) * jax.random.normal(
        offset_key, (num_clusters, providers_per_cluster, num_topics))
    return (centres[:, None, :] + offsets).reshape(-1, num_topics)


def ecosystem_config(means, num_users=2000, num_docs=400, slate_size=3, boost_cap=0.0) -> dict:
    """The story configuration (plain dict; arrays may be traced)."""
    return {"provider_means": means, "num_users": num_users, "num_docs": num_docs,
            "slate_size": slate_size, "num_providers": int(means.shape[0]), "boost_cap": boost_cap}


def ecosystem_network(config):
    """The ecosystem `Network` for one configuration."""
    return recommendation_story(config, ClusteredUsers.from_config, ViableCorpus.from_config,
                                ProviderAwareRecommender.from_config, UtilityMetrics.from_config)


def _summary(values):
    clicks = values["metrics"]["provider_clicks"]
    share = clicks / jnp.maximum(jnp.sum(clicks), 1.0)
    return {"mean_utility": jnp.mean(values["metrics"]["reward"]),
            "click_hhi": jnp.sum(share * share)}


def simulate(key, boost_cap, means, num_users, horizon, num_docs=400, slate_size=3):
    """One run. Returns per-run cumulative utility (mean over users) and per-step summaries.

    `boost_cap`: scalar (may be traced, so policies vmap together).
    """
    config = ecosystem_config(means, num_users, num_docs, slate_size, boost_cap)
    runtime = Runtime(ecosystem_network(config))
    final, per_step = runtime.summarize(key, horizon, _summary)
    return jnp.mean(final["metrics"]["cumulative_reward"]), per_step


@dataclasses.dataclass
class StudyResult:
    """Per-policy cumulative utilities `[num_runs]` and per-step curves `[num_runs, horizon + 1]`.

    `seconds`: wall time of the compiled program (all runs); `compile_seconds`: tracing + XLA.
    """

    cumulative_utility: dict[str, np.ndarray]
    mean_utility: dict[str, np.ndarray]
    click_hhi: dict[str, np.ndarray]
    seconds: float
    compile_seconds: float = 0.0

    def summary(self) -> dict:
        """`{policy: {"mean", "stderr"}}` of cumulative user utility, plus concentration."""
        out = {}
        for policy, values in self.cumulative_utility.items():
            hhi = self.click_hhi[policy].mean(0)
            out[policy] = {"mean": float(values.mean()),
                           "stderr": float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan"),
                           "hhi_start": float(hhi[1:11].mean()), "hhi_end": float(hhi[-10:].mean())}
        return out


def run_study(seed=0, num_runs=40, num_users=2000, horizon=300, num_docs=400, slate_size=3,
              policies=None, batch_size=None) -> StudyResult:
    """Run every policy `num_runs` times as one jitted, vmapped program.

    Args:
      seed: seeds the provider layout and the run keys.
      batch_size: runs vmapped at once (`None` = all); smaller batches trade
        parallel width for cache locality on CPU (via `lax.map(batch_size=...)`).
    """
    policies = dict(POLICIES if policies is None else policies)
    if num_runs < 1 or num_users < 1 or horizon < 1:
        raise ValueError("num_runs, num_users and horizon must be >= 1")
    layout_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
    means = provider_means(layout_key)
    run_keys = jax.random.split(run_key, num_runs)
    caps = jnp.repeat(jnp.asarray(list(policies.values()), jnp.float32), num_runs)
    keys = jnp.tile(run_keys, (len(policies), 1))

    def one(args):
        k, cap = args
        return simulate(k, cap, means, num_users, horizon, num_docs, slate_size)

    program = jax.jit(lambda ks, cs: jax.lax.map(one, (ks, cs), batch_size=batch_size or ks.shape[0]))
    start = time.perf_counter()
    compiled = program.lower(keys, caps).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    utilities, per_step = jax.block_until_ready(compiled(keys, caps))
    seconds = time.perf_counter() - start
    split = lambda a: {p: np.asarray(a[i * num_runs:(i + 1) * num_runs]) for i, p in enumerate(policies)}
    return StudyResult(split(utilities), split(per_step["mean_utility"]),
                       split(per_step["click_hhi"]), seconds, compile_seconds)


def plot_study(result: StudyResult, path: str) -> str:
    """Write a PNG: mean user utility per step and provider-click HHI over time, per policy."""
    import matplotlib  # lazy (heavy): only the study plot needs it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_u, ax_h) = plt.subplots(1, 2, figsize=(11, 4))
    for policy in result.mean_utility:
        for ax, curves in ((ax_u, result.mean_utility[policy][:, 1:]), (ax_h, result.click_hhi[policy][:, 1:])):
            mean = curves.mean(0)
            err = curves.std(0, ddof=1) / np.sqrt(curves.shape[0]) if curves.shape[0] > 1 else 0 * mean
            steps = np.arange(1, mean.size + 1)
            ax.plot(steps, mean, label=policy)
            ax.fill_between(steps, mean - err, mean + err, alpha=0.3)
    ax_u.set(xlabel="step", ylabel="mean user utility", title="User utility per step")
    ax_h.set(xlabel="step", ylabel="HHI of provider clicks", title="Provider concentration")
    for ax in (ax_u, ax_h):
        ax.legend()
    return io.save_figure(fig, path, dpi=110)
