"""The AttentionNeuron layer (Tang & Ha 2021), state variant, and its policies.

Every observation element `o_i` is a "sensory neuron". Neuron i sees
`[o_i, a_{t-1}]` and runs one shared LSTM cell (hidden size 8) whose state it
keeps across steps. Its output, projected, is the neuron's key. Queries are a
fixed sinusoidal table of M rows projected by a learned matrix, and the values
are the raw elements, so the global code

    m_t = tanh( tanh(Q K^T / sqrt(d)) @ o_t )                  [M]

is a weighted sum over neurons: permuting the elements together with their
LSTM states leaves it unchanged, and any number of elements is accepted.

Functions here are unbatched over environments (vmap them): `obs: [N]`,
`prev_action: [A]`, LSTM state `[N, hidden]`.
"""
from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.policy import RecurrentPolicy


def sinusoidal_table(num_rows: int, width: int) -> np.ndarray:
    """Fixed positional-encoding table `[num_rows, width]` (sin on even, cos on odd columns)."""
    positions = np.arange(num_rows, dtype=np.float64)[:, None]
    rates = 1.0 / np.power(10000.0, (2 * (np.arange(width) // 2)) / width)
    angles = positions * rates[None, :]
    table = np.where(np.arange(width)[None, :] % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(np.float32)


class AttentionNeuron(hk.Module):
    """Permutation-invariant observation encoder (state variant).

    Args:
      num_queries: M, the size of the global code.
      message_size: d, the width of queries and keys.
      hidden_size: LSTM hidden size of each sensory neuron.
      query_table_width: width of the fixed sinusoidal query table.
    """

    def __init__(self, num_queries: int = 16, message_size: int = 32, hidden_size: int = 8,
                 query_table_width: int = 8, name: str | None = None):
        super().__init__(name=name)
        self.num_queries = num_queries
        self.message_size = message_size
        self.hidden_size = hidden_size
        self.query_table = sinusoidal_table(num_queries, query_table_width)

    def __call__(self, obs: jax.Array, prev_action: jax.Array, lstm_state: hk.LSTMState):
        """One step.

        Args:
          obs: `[N]` observation elements (any N).
          prev_action: `[A]` the previous action (zeros at the first step).
          lstm_state: per-neuron `hk.LSTMState` with `hidden`, `cell` of `[N, hidden_size]`.

        Returns:
          `(code [M], attention [M, N], next_lstm_state)`.
        """
        num_inputs = obs.shape[0]
        per_neuron = jnp.concatenate(
            [obs[:, None], jnp.broadcast_to(prev_action[None, :], (num_inputs, prev_action.shape[0]))], axis=1)
        lstm_out, next_state = hk.LSTM(self.hidden_size, name="neuron_lstm")(per_neuron, lstm_state)
        keys = hk.Linear(self.message_size, name="key_projection")(lstm_out)                  # [N, d]
        queries = hk.Linear(self.message_size, name="query_projection")(jnp.asarray(self.query_table))  # [M, d]
        attention = jnp.tanh(queries @ keys.T / np.sqrt(self.message_size))                   # [M, N]
        code = jnp.tanh(attention @ obs)                                                      # [M]
        return code, attention, next_state


def make_sensory_policy(action_size: int = 1, num_queries: int = 16, message_size: int = 32,
                        hidden_size: int = 8, head_hidden: tuple[int, ...] = ()) -> RecurrentPolicy:
    """AttentionNeuron followed by the paper's head: `head_hidden` tanh layers, then a tanh output.

    Cart-pole: `num_queries=16, head_hidden=()` (code -> linear -> tanh, about 1k params).
    Ant: `num_queries=32, head_hidden=(32,)`, `action_size=8`.
    The carry is `(lstm_state, prev_action)`.
    """
    if action_size < 1 or num_queries < 1 or message_size < 1 or hidden_size < 1:
        raise ValueError("action_size, num_queries, message_size and hidden_size must all be >= 1")

    def forward(obs, carry):
        lstm_state, prev_action = carry
        layer = AttentionNeuron(num_queries, message_size, hidden_size, name="attention_neuron")
        code, _, next_lstm = layer(obs, prev_action, lstm_state)
        x = code
        for i, width in enumerate(head_hidden):
            x = jnp.tanh(hk.Linear(width, name=f"head_hidden_{i}")(x))
        action = jnp.tanh(hk.Linear(action_size, name="head_out")(x))
        return (next_lstm, action), action

    net = hk.without_apply_rng(hk.transform(forward))

    def initial_carry(num_inputs: int):
        zeros = jnp.zeros((num_inputs, hidden_size), jnp.float32)
        return (hk.LSTMState(hidden=zeros, cell=zeros), jnp.zeros((action_size,), jnp.float32))

    def init(key, num_inputs: int):
        return net.init(key, jnp.zeros((num_inputs,), jnp.float32), initial_carry(num_inputs))

    def step(params, carry, obs):
        return net.apply(params, obs, carry)

    def observe_action(carry, action):
        return (carry[0], action)

    return RecurrentPolicy("sensory", action_size, None, init, initial_carry, step, observe_action)


def make_attention_probe(num_queries: int = 16, message_size: int = 32, hidden_size: int = 8):
    """`probe(params, obs [N], lstm_state, prev_action) -> (code [M], attention [M, N], next_state)`.

    Runs only the AttentionNeuron layer of parameters made by `make_sensory_policy`
    with the same sizes (for tests and plots).
    """

    def forward(obs, prev_action, lstm_state):
        return AttentionNeuron(num_queries, message_size, hidden_size, name="attention_neuron")(
            obs, prev_action, lstm_state)

    net = hk.without_apply_rng(hk.transform(forward))

    def probe(params, obs, lstm_state, prev_action):
        layer_params = {k: v for k, v in params.items() if k.startswith("attention_neuron")}
        return net.apply(layer_params, obs, prev_action, lstm_state)

    return probe
