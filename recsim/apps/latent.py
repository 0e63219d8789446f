"""Latent-variable learning: users with a hidden intent and a satisfaction state.

Model (per trajectory, `U` users, slate of `k` random documents per step):
  intent     z_u ~ N(0, I_T)                          (latent, static)
  slate      d_uj ~ N(0, I_T)                         (a random recommender)
  choice     c_u ~ MNL(sensitivity * <z_u, d_uj>, no-choice logit 0)
  satisfaction s_u(t+1) ~ N(memory * s_u(t) + <z_u, d_chosen>, noise)   (0 for no choice)

`fit_sensitivity` recovers the choice sensitivity by maximum likelihood on
logged trajectories; `infer_intents` samples the posterior over intents of
one logged trajectory with HMC, scoring candidate intents with the same model
code in observe mode.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.engine.distributions import MultivariateNormalDiag, Normal
from simlab.recsim import choice
from simlab.recsim.core import Network, Runtime, Variable, previous
from simlab.recsim.inference import fit_mle, hmc_posterior

TRUE_PARAMS = {"sensitivity": 2.0, "memory": 0.7, "noise": 0.3}


def latent_network(params, num_users=5, slate_size=4, num_topics=2) -> Network:
    """The latent-intent story; `params` holds `sensitivity`, `memory`, `noise` (may be traced)."""
    zeros = jnp.zeros((num_users, num_topics), jnp.float32)

    def user_initial(ctx):
        intent = ctx.draw("intent", MultivariateNormalDiag(zeros, jnp.ones_like(zeros)))
        return {"intent": intent, "satisfaction": jnp.zeros((num_users,), jnp.float32)}

    def user_step(ctx, user, response, slate):
        relevance = jnp.einsum("ut,ukt->uk", user["intent"], slate["features"])
        gained = choice.chosen(relevance, response["choice"], no_choice_fill=0.0)
        satisfaction = ctx.draw("satisfaction", Normal(
            params["memory"] * user["satisfaction"] + gained, params["noise"]))
        return {"intent": user["intent"], "satisfaction": satisfaction}

    def slate(ctx):
        shape = (num_users, slate_size, num_topics)
        return {"features": ctx.draw("features", Normal(jnp.zeros(shape), 1.0))}

    def response(ctx, user, slate):
        relevance = jnp.einsum("ut,ukt->uk", user["intent"], slate["features"])
        dist = choice.multinomial_logit(params["sensitivity"] * relevance, no_choice_logit=0.0)
        return {"choice": ctx.draw("choice", dist)}

    return Network([
        Variable("user", initial=user_initial,
                 step=(user_step, [previous("user"), previous("response"), previous("slate")])),
        Variable("slate", initial=slate, step=slate),
        Variable("response", initial=(response, ["user", "slate"]), step=(response, ["user", "slate"])),
    ])


def simulate_logs(key, num_trajectories=200, num_steps=10, params=None, **sizes):
    """Logged trajectories stacked on a leading `[num_trajectories]` axis."""
    runtime = Runtime(latent_network(params or TRUE_PARAMS, **sizes))
    keys = jax.random.split(key, num_trajectories)
    return jax.jit(jax.vmap(lambda k: runtime.trajectory(k, num_steps)))(keys)


def log_likelihood(params, logs, **sizes):
    """Total log-probability of all logged trajectories under `params`."""
    runtime = Runtime(latent_network(params, **sizes))
    return jnp.sum(jax.vmap(runtime.log_prob)(logs))


def fit_sensitivity(logs, initial=0.5, num_steps=300, learning_rate=0.05, **sizes):
    """MLE of the choice sensitivity (memory and noise held at their true values)."""
    fixed = {k: v for k, v in TRUE_PARAMS.items() if k != "sensitivity"}
    ll = lambda p, data: log_likelihood({**fixed, "sensitivity": p}, data, **sizes)
    return fit_mle(ll, jnp.float32(initial), logs, num_steps=num_steps, learning_rate=learning_rate)


def infer_intents(key, trajectory, num_samples=500, num_warmup=200, step_size=0.02,
                  num_integration_steps=10, **sizes):
    """HMC samples `[num_samples, U, T]` of the intents of one logged trajectory (true params)."""
    runtime = Runtime(latent_network(TRUE_PARAMS, **sizes))
    num_values = trajectory["user"]["intent"].shape[0]

    def logdensity(intent):
        user = {**trajectory["user"], "intent": jnp.broadcast_to(intent, (num_values,) + intent.shape)}
        return runtime.log_prob({**trajectory, "user": user})

    initial = jnp.zeros_like(trajectory["user"]["intent"][0])
    return hmc_posterior(logdensity, initial, key, num_samples=num_samples, num_warmup=num_warmup,
                         step_size=step_size, num_integration_steps=num_integration_steps)
