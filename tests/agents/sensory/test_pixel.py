"""The pixel AttentionNeuron layer and the puzzle-Pong task."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.agents.sensory.pixel import (PixelConfig, grid_query_table, make_pixel_apply, make_pixel_policy,
                                         make_pixel_probe)
from simlab.agents.sensory.pixel_train import PixelBCConfig, make_pixel_bc, random_masks
from simlab.agents.sensory.pong import CONDITIONS, NUM_PATCHES, num_shown_of, pong_params_path, pong_patch_env

CONFIG = PixelConfig(patch_size=4, num_frames=2, query_grid=(2, 3), message_size=8, head_hidden=(8,))


@pytest.fixture(scope="module")
def params():
    return jax.jit(make_pixel_policy(CONFIG).init, static_argnums=1)(jax.random.key(0), 10)


def _patches(key, n):
    return jax.random.uniform(key, (n, CONFIG.patch_dim))


def test_code_and_action_are_permutation_invariant(params):
    probe, apply = jax.jit(make_pixel_probe(CONFIG)), jax.jit(make_pixel_apply(CONFIG))
    patches = _patches(jax.random.key(1), 40)
    code, attention = probe(params, patches)
    assert code.shape == (6, CONFIG.patch_dim) and attention.shape == (6, 40)
    np.testing.assert_allclose(np.asarray(attention.sum(axis=1)), 1.0, atol=1e-6)
    for seed in range(5):
        perm = jax.random.permutation(jax.random.key(10 + seed), 40)
        code_p, attention_p = probe(params, patches[perm])
        np.testing.assert_allclose(np.asarray(code_p), np.asarray(code), atol=1e-5)
        np.testing.assert_allclose(np.asarray(attention_p), np.asarray(attention[:, perm]), atol=1e-6)
        np.testing.assert_allclose(np.asarray(apply(params, patches[perm])), np.asarray(apply(params, patches)),
                                   atol=1e-5)


def test_any_number_of_patches_and_masks_equal_removal(params):
    apply = jax.jit(make_pixel_apply(CONFIG))
    for n in (1, 7, 100):
        action = apply(params, _patches(jax.random.key(n), n))
        assert action.shape == (1,) and bool(jnp.all(jnp.abs(action) <= 1.0))
    patches = _patches(jax.random.key(3), 100)
    mask = random_masks(jax.random.key(4), 1, 100, 0.07, 0.07)[0]
    assert int(mask.sum()) == 7
    np.testing.assert_allclose(np.asarray(apply(params, patches, mask)), np.asarray(apply(params, patches[mask])),
                               atol=1e-6)


def test_pixel_cloning_is_dagger_on_shown_subsets_of_running_pong_games():
    """`make_pixel_bc` is `agents.bc`'s DAgger: a segment of auto-resetting games, each step showing the student a
    random 25-50% of the patches (a mask, fresh per step and game) and labelled with the teacher's action on the
    true state; two iterations move the parameters and run the games on."""
    from simlab.agents.sensory.pong import teacher_observation
    from simlab.envs.classic.pong import tracking_action

    config = PixelBCConfig(num_episodes=3, segment_steps=5, episode_length=7, minibatch_size=8,
                           updates_per_iteration=2, shown_min=0.25, shown_max=0.5)
    bc = make_pixel_bc(pong_patch_env("shuffled"), teacher_observation, tracking_action, config, CONFIG)
    start = make_pixel_policy(CONFIG).init(jax.random.key(0), NUM_PATCHES)
    state = bc.init(jax.random.key(1), start)
    _, batch = jax.jit(bc._continue, static_argnums=0)(bc.envs[0], state.env_states[0], start, 1.0,
                                                       jax.random.key(2))
    patches, masks = batch.obs
    assert patches.shape == (5, 3, NUM_PATCHES, 32) and masks.shape == (5, 3, NUM_PATCHES)
    shown = np.asarray(masks.sum(axis=-1))
    assert shown.min() >= 16 and shown.max() <= 32 and len(set(shown.ravel().tolist())) > 1
    np.testing.assert_array_equal(np.asarray(batch.executed), np.asarray(batch.targets))  # beta = 1
    step = jax.jit(bc.iteration)
    state, first = step(state)
    state, second = step(state)
    assert np.asarray(state.env_states[0].info["steps"]).tolist() == [3, 3, 3]  # 10 steps of 7-step games
    np.testing.assert_allclose([float(first["beta"]), float(second["beta"])], [1.0, 0.98])
    assert np.isfinite(float(second["bc_loss"]))
    assert not np.allclose(jax.tree_util.tree_leaves(state.params)[0], jax.tree_util.tree_leaves(start)[0])
    with pytest.raises(ValueError, match="shown_min"):
        PixelBCConfig(shown_min=0.8, shown_max=0.5)


def test_bad_inputs_raise(params):
    with pytest.raises(ValueError, match=r"expected patches \[N, 32\]"):
        make_pixel_apply(CONFIG)(params, jnp.zeros((5, 16)))
    with pytest.raises(ValueError, match="frame differences"):
        PixelConfig(num_frames=1)
    with pytest.raises(ValueError, match="even"):
        grid_query_table((2, 2), 5)
    with pytest.raises(ValueError, match="unknown pong condition"):
        num_shown_of("occluded")


def test_grid_queries_are_distinct():
    table = grid_query_table((4, 4), 8)
    assert table.shape == (16, 8) and len({tuple(np.round(row, 5)) for row in table}) == 16


def test_pong_conditions_and_the_shipped_agent():
    assert [num_shown_of(c) for c in CONDITIONS] == [None, None, 6, 19, 32, 45]
    env = pong_patch_env("shown_30")
    state = env.reset(jax.random.key(0))
    assert state.obs.shape == (19, 32) and env.observation_spec.shape == (19, 32)
    assert pong_patch_env("unshuffled").observation_spec.shape == (NUM_PATCHES, 32)
    from simlab.agents.sensory.pong import PONG_CONFIG
    from simlab.agents.sensory.tasks import load_params

    shipped, meta = load_params(pong_params_path())
    assert meta["command"].startswith("simlab sensory train pong")
    action = make_pixel_apply(PONG_CONFIG)(shipped, state.obs)
    assert action.shape == (1,) and bool(jnp.isfinite(action).all())


def test_cli_parses_the_pong_commands_and_refuses_bad_ones():
    from simlab.agents.sensory import pong_cli
    from simlab.agents.sensory.cli import build_parser, main

    args = build_parser().parse_args(["eval", "pong", "--episodes", "3", "--fractions", "0.2", "0.9"])
    assert args.task == "pong" and args.fractions == [0.2, 0.9] and args.func.__name__ == "_eval"
    args = build_parser().parse_args(["train", "pong", "--bc-iterations", "2", "--shown-min", "0.4"])
    assert args.shown_min == 0.4 and args.shown_max == 0.7 and args.bc_segment == 64
    with pytest.raises(SystemExit, match="behaviour cloning"):
        main(["train", "pong"])
    with pytest.raises(SystemExit, match="not supported for pong"):
        main(["train", "pong", "--bc-iterations", "1", "--es-generations", "5"])
    for bad in ("1.5", "0"):  # out-of-range fractions are refused, not silently dropped
        with pytest.raises(SystemExit, match="fractions must lie in"):
            main(["eval", "pong", "--episodes", "1", "--fractions", "0.5", bad])
    assert pong_cli.PIXEL_TASKS == ("pong",)
