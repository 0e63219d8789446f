"""The AttentionNeuron layer, pixel variant (Tang & Ha 2021), and its Pong policy.

The inputs are `N` image patches `[N, D]`, `D = P*P*F` (a `[P, P, F]` block of the
last `F` frames, oldest first, flattened as `engine.wrappers.patches` does). Per
patch `i`:

    delta_i = vec(x_i[..., 1:] - x_i[..., :-1])          frame differences
    key_i   = W_k [delta_i, |delta_i|]                    [d]
    value_i = x_i                                         the patch itself,  [D]

The `M` queries are a fixed 2-D sinusoidal table (a `grid[0] x grid[1]` grid of
positions) through a learned projection `W_q`, and

    A   = softmax_over_patches( Q K^T / sqrt(d) )          [M, N]
    m_t = A @ V                                            [M, D]

(`|delta|` lets a linear key see *that* something moved whatever its direction.)
Every row of `A` is a weighted average over patches, so permuting the patches
leaves `m_t` unchanged and any `N` (e.g. only the shown patches) is accepted.
A boolean `mask [N]` drops patches exactly as removing them would (masked
logits are `-inf`). The head is `tanh` MLP layers on the flattened code and a
`tanh` output (the action).

No recurrence: the frame stack carries the motion, as in the paper's pixel
variant, so the policy is a function of the current observation only.
"""
from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.policy import RecurrentPolicy
from simlab.agents.sensory.network import sinusoidal_table


def grid_query_table(grid: tuple[int, int], width: int) -> np.ndarray:
    """Fixed 2-D sinusoidal encoding `[grid[0] * grid[1], width]` of grid positions (row-major).

    The first `width // 2` columns encode the row, the rest the column (each a
    1-D table as in `sinusoidal_table`). `width` must be even.
    """
    if width % 2 or width < 2:
        raise ValueError(f"the query table width must be an even number >= 2, got {width}")
    rows, cols = grid
    row_table = sinusoidal_table(rows, width // 2)
    col_table = sinusoidal_table(cols, width // 2)
    table = np.concatenate([np.repeat(row_table, cols, axis=0), np.tile(col_table, (rows, 1))], axis=1)
    return table.astype(np.float32)


@dataclasses.dataclass(frozen=True)
class PixelConfig:
    """Sizes of the pixel sensory layer and head.

    patch_size P and num_frames F fix the patch width D = P*P*F; query_grid gives
    M = rows * cols queries; message_size d is the key/query width.
    """

    patch_size: int = 4
    num_frames: int = 2
    query_grid: tuple[int, int] = (4, 4)
    message_size: int = 32
    query_table_width: int = 8
    head_hidden: tuple[int, ...] = (64,)
    action_size: int = 1
    key_init_scale: float = 1.0
    value_features: int = 0

    def __post_init__(self):
        if self.num_frames < 2:
            raise ValueError(f"the pixel layer needs >= 2 stacked frames for frame differences, got {self.num_frames}")
        if min(self.patch_size, self.message_size, self.action_size, *self.query_grid) < 1:
            raise ValueError("patch_size, message_size, action_size and the query grid must all be >= 1")

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * self.num_frames

    @property
    def num_queries(self) -> int:
        return self.query_grid[0] * self.query_grid[1]


class PixelAttentionNeuron(hk.Module):
    """Permutation-invariant patch encoder: keys from frame differences, values are the patches."""

    def __init__(self, config: PixelConfig, name: str | None = None):
        super().__init__(name=name)
        self.config = config
        self.query_table = grid_query_table(config.query_grid, config.query_table_width)

    def __call__(self, patches: jax.Array, mask: jax.Array | None = None):
        """`patches [N, D]`, optional boolean `mask [N]` -> `(code [M, D], attention [M, N])`."""
        c = self.config
        if patches.ndim != 2 or patches.shape[1] != c.patch_dim:
            raise ValueError(f"expected patches [N, {c.patch_dim}] (P={c.patch_size}, F={c.num_frames}), "
                             f"got shape {patches.shape}")
        pixels = patches.reshape(patches.shape[0], c.patch_size * c.patch_size, c.num_frames)
        differences = (pixels[..., 1:] - pixels[..., :-1]).reshape(patches.shape[0], -1)
        differences = jnp.concatenate([differences, jnp.abs(differences)], axis=1)           # [N, 2 P^2 (F-1)]
        key_init = hk.initializers.VarianceScaling(c.key_init_scale, "fan_in", "truncated_normal")
        keys = hk.Linear(c.message_size, w_init=key_init, name="key_projection")(differences)  # [N, d]
        queries = hk.Linear(c.message_size, name="query_projection")(jnp.asarray(self.query_table))  # [M, d]
        logits = queries @ keys.T / np.sqrt(c.message_size)                                   # [M, N]
        if mask is not None:
            logits = jnp.where(mask[None, :], logits, -jnp.inf)
        attention = jax.nn.softmax(logits, axis=-1)
        values = patches
        if c.value_features:
            values = jnp.tanh(hk.Linear(c.value_features, name="value_projection")(patches))
        return attention @ values, attention


def make_pixel_policy(config: PixelConfig | None = None) -> RecurrentPolicy:
    """The pixel sensory agent as a `RecurrentPolicy` with an empty carry.

    `init(key, num_patches) -> params`; `step(params, (), patches [N, D]) -> ((), action [A])`
    for any N. For a mask over the patches use `make_pixel_apply`.
    """
    config = config or PixelConfig()
    apply = make_pixel_apply(config)

    def init(key, num_patches: int = 64):
        return _network(config).init(key, jnp.zeros((num_patches, config.patch_dim), jnp.float32), None)

    def step(params, carry, patches):
        return carry, apply(params, patches)

    return RecurrentPolicy("sensory_pixel", config.action_size, None, init, lambda n: (), step)


def _network(config: PixelConfig):
    def forward(patches, mask):
        code, _ = PixelAttentionNeuron(config, name="pixel_attention_neuron")(patches, mask)
        x = code.reshape(-1)
        for i, width in enumerate(config.head_hidden):
            x = jnp.tanh(hk.Linear(width, name=f"head_hidden_{i}")(x))
        return jnp.tanh(hk.Linear(config.action_size, name="head_out")(x))

    return hk.without_apply_rng(hk.transform(forward))


def make_pixel_apply(config: PixelConfig | None = None):
    """`apply(params, patches [N, D], mask [N] bool | None = None) -> action [A]` (unbatched)."""
    net = _network(config or PixelConfig())

    def apply(params, patches, mask=None):
        return net.apply(params, patches, mask)

    return apply


def make_pixel_probe(config: PixelConfig | None = None):
    """`probe(params, patches [N, D], mask=None) -> (code [M, D], attention [M, N])` of the layer alone."""
    config = config or PixelConfig()

    def forward(patches, mask):
        return PixelAttentionNeuron(config, name="pixel_attention_neuron")(patches, mask)

    net = hk.without_apply_rng(hk.transform(forward))

    def probe(params, patches, mask=None):
        layer = {k: v for k, v in params.items() if k.startswith("pixel_attention_neuron")}
        return net.apply(layer, patches, mask)

    return probe
