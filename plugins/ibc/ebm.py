"""The implicit policy: an energy model E(o, a) trained with InfoNCE, acting by minimising the energy.

Training (per demonstrated pair (o, a+), with counter-examples a-_1..a-_K):

    InfoNCE = -log [ exp(-E(o, a+)) / (exp(-E(o, a+)) + sum_k exp(-E(o, a-_k))) ]

* `counter_examples="uniform"`: a-_k ~ U[-1, 1]^A (the normalised action box; the paper's DFO variant,
  256 of them).
* `counter_examples="langevin"`: the uniform draws refined by a Langevin chain (`langevin`) on the current
  energy (not differentiated through), plus the gradient penalty of the paper on the chain's final
  samples: `weight * mean(max(0, |dE/da|_inf - margin)^2)` (margin 1), which keeps the energy landscape
  smooth enough for Langevin sampling.

Acting: `inference="dfo"` runs the derivative-free optimizer (`dfo`), `inference="langevin"` runs
`inference_samples` Langevin chains from uniform draws. With `refine` (a `LangevinConfig`, usually
noise-free: `noise_scale=0`), every final candidate then descends the energy once more (the paper's
"optimize again" trick for precise actions), so the candidates sit on the modes' minima. Of the final
candidates the policy draws one with probability softmax(-E) (the paper's policy: where two modes
compete, e.g. "stay at goal 1" and "leave for goal 2", it does not lock onto one), or takes the
lowest-energy one with `greedy=True`.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simlab.agents.config_validation import AT_LEAST_ONE, NONNEGATIVE, validate_config
from simlab.plugins.ibc.dfo import DFOConfig, dfo_samples
from simlab.plugins.ibc.langevin import LangevinConfig, langevin_chain, langevin_samples
from simlab.plugins.ibc.model import BCModel
from simlab.plugins.ibc.networks import NetworkConfig, make_energy_net

COUNTER_EXAMPLES = ("uniform", "langevin")
INFERENCE = ("dfo", "langevin")


@dataclasses.dataclass(frozen=True)
class EBMConfig:
    """network: the energy net; counter_examples/num_counter_examples/train_langevin: the InfoNCE negatives
    (see the module docstring); grad_penalty_weight, grad_margin: the penalty (Langevin negatives only);
    inference, dfo, langevin, inference_samples, refine, greedy: how actions are chosen (module docstring)."""

    network: NetworkConfig = NetworkConfig()
    counter_examples: str = "uniform"
    num_counter_examples: int = 256
    train_langevin: LangevinConfig = LangevinConfig()
    grad_penalty_weight: float = 1.0
    grad_margin: float = 1.0
    inference: str = "dfo"
    dfo: DFOConfig = DFOConfig()
    langevin: LangevinConfig = LangevinConfig()
    inference_samples: int = 512
    refine: LangevinConfig | None = None
    greedy: bool = False

    def __post_init__(self):
        validate_config(self, {"num_counter_examples": AT_LEAST_ONE, "grad_penalty_weight": NONNEGATIVE,
                               "grad_margin": NONNEGATIVE, "inference_samples": AT_LEAST_ONE},
                        {"counter_examples": COUNTER_EXAMPLES, "inference": INFERENCE})
        for name, cls in (("network", NetworkConfig), ("train_langevin", LangevinConfig), ("dfo", DFOConfig),
                          ("langevin", LangevinConfig), ("refine", LangevinConfig)):
            if not isinstance(getattr(self, name), cls) and not (name == "refine" and self.refine is None):
                raise TypeError(f"EBMConfig.{name} must be a {cls.__name__}, got {getattr(self, name)!r}")


def info_nce_loss(energies: jax.Array) -> jax.Array:
    """`[..., 1 + K]` energies, the positive first -> `[...]` InfoNCE losses (softmax cross-entropy of -E)."""
    return energies[..., 0] + jax.nn.logsumexp(-energies, axis=-1)


def gradient_penalty(energy_grads: jax.Array, margin: float) -> jax.Array:
    """Mean over samples of `max(0, |g|_inf - margin)^2` for `energy_grads [..., A]` (dE/da per sample)."""
    return jnp.mean(jnp.maximum(jnp.max(jnp.abs(energy_grads), axis=-1) - margin, 0.0) ** 2)


def make_ebm(name: str, config: EBMConfig, obs_size: int, action_size: int) -> BCModel:
    """The implicit BC model (see the module docstring) as a `BCModel` over normalised obs and actions."""
    net = make_energy_net(config.network)
    low, high = -jnp.ones(action_size, jnp.float32), jnp.ones(action_size, jnp.float32)

    def init(key):
        return net.init(key, jnp.zeros((obs_size,)), jnp.zeros((1, action_size)))

    def energy_fn(params, obs):
        return lambda actions: net.apply(params, obs, actions)

    def langevin_negatives(params, key, obs, negatives):
        """Langevin-refined counter-examples for a batch (obs [B, O], negatives [B, K, A])."""
        frozen = jax.lax.stop_gradient(params)
        chain = lambda k, o, a: langevin_chain(energy_fn(frozen, o), k, a, low, high, config.train_langevin)
        return jax.lax.stop_gradient(jax.vmap(chain)(jax.random.split(key, obs.shape[0]), obs, negatives))

    def loss(params, key, obs, actions):
        uniform_key, chain_key = jax.random.split(key)
        negatives = jax.random.uniform(uniform_key, (obs.shape[0], config.num_counter_examples, action_size),
                                       jnp.float32, -1.0, 1.0)
        metrics = {}
        total = jnp.zeros((), jnp.float32)
        if config.counter_examples == "langevin":
            negatives = langevin_negatives(params, chain_key, obs, negatives)
            grads = jax.grad(lambda a: jnp.sum(net.apply(params, obs, a)))(negatives)
            penalty = gradient_penalty(grads, config.grad_margin)
            total = total + config.grad_penalty_weight * penalty
            metrics["grad_penalty"] = penalty
        energies = net.apply(params, obs, jnp.concatenate([actions[:, None, :], negatives], axis=1))
        nce = jnp.mean(info_nce_loss(energies))
        metrics.update(info_nce=nce, positive_is_lowest=jnp.mean(jnp.argmin(energies, axis=-1) == 0))
        return total + nce, metrics

    def act(params, key, obs):
        search_key, refine_key, pick_key = jax.random.split(key, 3)
        if config.inference == "dfo":
            samples, energies = dfo_samples(energy_fn(params, obs), search_key, low, high, config.dfo)
        else:
            samples, energies = langevin_samples(energy_fn(params, obs), search_key, low, high,
                                                 config.inference_samples, config.langevin)
        if config.refine is not None:
            samples = langevin_chain(energy_fn(params, obs), refine_key, samples, low, high, config.refine)
            energies = energy_fn(params, obs)(samples)
        pick = jnp.argmin(energies) if config.greedy else jax.random.categorical(pick_key, -energies)
        return samples[pick]

    return BCModel(name, obs_size, action_size, init, loss, act)
