"""Runs a `Network` forward (sample mode) or scores a logged trajectory (observe mode).

Time is a `lax.scan`; one step key is split into one key per variable (in
declaration order), so adding a draw to one variable never changes another's
randomness. Replicas are `vmap`ped over keys.

Trajectory layout: `trajectory[name][field]` has shape `[num_steps + 1, *field_shape]`;
index 0 is the initial value and index t the value after t steps.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp

from simlab.recsim.core.network import Network
from simlab.recsim.core.value import check_value, spec_of
from simlab.recsim.core.variable import Context, Definition, Previous

Values = dict  # dict[variable name, dict[field, array]]


class Runtime:
    """Compiles the step of a `Network` and runs it under `lax.scan`."""

    def __init__(self, network: Network):
        if not isinstance(network, Network):
            raise TypeError(f"Runtime needs a Network, got {type(network).__name__}")
        self.network = network
        self._specs: dict[str, dict] | None = None

    # -- one phase -----------------------------------------------------------------
    def _evaluate(self, phase, key, prev: Values | None, observed: Values | None):
        """Evaluate every variable once. Returns (values, log_probs per variable)."""
        net = self.network
        order = net.initial_order if phase == "initial" else net.step_order
        keys = jax.random.split(key, len(net.names))
        key_of = dict(zip(net.names, keys))
        values: Values = {}
        log_probs: dict[str, jax.Array] = {}
        for name in order:
            var = net.variables[name]
            definition: Definition | None = var.initial if phase == "initial" else var.step
            if definition is None:  # static variable: carry the previous value
                values[name] = prev[name] if observed is None else observed[name]
                log_probs[name] = jnp.zeros((), jnp.float32)
                continue
            args = []
            for dep in definition.dependencies:
                if isinstance(dep, Previous):
                    args.append(prev[dep.name])
                else:
                    args.append(values[dep] if observed is None else observed[dep])
            ctx = Context(key_of[name], None if observed is None else observed[name])
            value = definition.fn(ctx, *args)
            value = {k: jnp.asarray(v) for k, v in value.items()} if isinstance(value, dict) else value
            self._check(name, phase, value)
            values[name] = value if observed is None else dict(observed[name])
            log_probs[name] = ctx.log_prob
        return values, log_probs

    def _check(self, name, phase, value):
        if self._specs is None:
            self._specs = {}
        var = self.network.variables[name]
        if name not in self._specs:
            self._specs[name] = dict(var.spec) if var.spec is not None else spec_of(value)
        check_value(name, phase, value, self._specs[name])

    # -- sample mode -----------------------------------------------------------------
    def initial_value(self, key: jax.Array) -> Values:
        """The values at t = 0."""
        return self._evaluate("initial", key, None, None)[0]

    def step(self, key: jax.Array, previous_values: Values) -> Values:
        """The values at t + 1 given the values at t."""
        return self._evaluate("step", key, previous_values, None)[0]

    def _scan(self, key, num_steps, summary):
        """Scan `num_steps` steps; returns `(final, stacked summary(values) for t = 0..n or None)`."""
        if int(num_steps) != num_steps or num_steps < 0:
            raise ValueError(f"num_steps must be a non-negative int, got {num_steps!r}")
        keys = jax.random.split(key, int(num_steps) + 1)
        init = self.initial_value(keys[0])

        def body(values, step_key):
            new = self.step(step_key, values)
            return new, (None if summary is None else summary(new))

        final, stacked = jax.lax.scan(body, init, keys[1:])
        if summary is None:
            return final, None
        return final, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b], 0), summary(init), stacked)

    def trajectory(self, key: jax.Array, num_steps: int) -> Values:
        """All values for t = 0..num_steps, stacked on a leading `[num_steps + 1]` axis."""
        return self._scan(key, num_steps, lambda values: values)[1]

    def execute(self, key: jax.Array, num_steps: int) -> Values:
        """The values after `num_steps` steps (no trajectory is kept)."""
        return self._scan(key, num_steps, None)[0]

    def summarize(self, key: jax.Array, num_steps: int, summary) -> tuple[Values, object]:
        """Run `num_steps` steps keeping only `summary(values)` per step.

        Returns `(final values, stacked summaries [num_steps + 1, ...])`; use it
        when full trajectories (e.g. per-user slates) would not fit in memory.
        """
        return self._scan(key, num_steps, summary)

    def replicas(self, keys: jax.Array, num_steps: int, *, final_only: bool = True) -> Values:
        """`execute` (or `trajectory`) vmapped over `keys: [num_replicas]` keys."""
        fn = self.execute if final_only else self.trajectory
        return jax.vmap(lambda k: fn(k, num_steps))(keys)

    # -- observe mode ----------------------------------------------------------------
    def log_prob_terms(self, trajectory: Values) -> dict[str, jax.Array]:
        """Per-variable log-probabilities of a logged trajectory, shape `[num_steps + 1]`.

        Every drawn field is scored at its logged value; deterministic fields
        score 0. Steps are scored in parallel (`vmap` over t), since each only
        needs the logged values at t and t - 1.
        """
        missing = sorted(set(self.network.names) - set(trajectory))
        if missing:
            raise ValueError(f"the trajectory lacks variables {missing}; log every variable.")
        lengths = {leaf.shape[0] for leaf in jax.tree.leaves(trajectory)}
        if len(lengths) != 1:
            raise ValueError(f"trajectory fields disagree on the number of steps: {sorted(lengths)}")
        dummy_key = jax.random.PRNGKey(0)  # observe mode draws nothing
        at = lambda t: jax.tree.map(lambda a: a[t], trajectory)
        expected = jax.eval_shape(self.initial_value, dummy_key)
        for name in self.network.names:
            check_value(name, "logged", at(0)[name], spec_of(expected[name]))
        _, initial_lp = self._evaluate("initial", dummy_key, None, at(0))
        num_values = lengths.pop()
        if num_values == 1:
            return {n: lp[None] for n, lp in initial_lp.items()}
        prev = jax.tree.map(lambda a: a[:-1], trajectory)
        curr = jax.tree.map(lambda a: a[1:], trajectory)
        step_lp = jax.vmap(lambda p, c: self._evaluate("step", dummy_key, p, c)[1])(prev, curr)
        return {n: jnp.concatenate([initial_lp[n][None], step_lp[n]]) for n in initial_lp}

    def log_prob(self, trajectory: Values) -> jax.Array:
        """Total log-probability (scalar) of a logged trajectory."""
        terms = self.log_prob_terms(trajectory)
        return sum(jnp.sum(v) for v in terms.values())
