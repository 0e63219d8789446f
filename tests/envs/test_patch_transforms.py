"""Patch transforms: exact patch layout, shuffle and occlusion, branch-free."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.engine.env import Env, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.wrappers import (OccludePatches, PatchObservation, ShufflePatches, TimeLimit, image_to_patches,
                                    patches_to_image, with_patch_transforms)


class Counter(Env):
    """A `[8, 12, 2]` image whose pixel (r, c, f) is 1000 t + 100 r + c + 0.5 f at step t."""

    def reset(self, key):
        return initial_state(jnp.zeros((), jnp.int32), self._image(0))

    def step(self, state, action):
        t = state.sim + 1
        return state.replace(sim=t, obs=self._image(t))

    @staticmethod
    def _image(t):
        r, c, f = np.meshgrid(np.arange(8), np.arange(12), np.arange(2), indexing="ij")
        return (1000.0 * t + 100.0 * r + c + 0.5 * f).astype(np.float32) * jnp.ones(())

    observation_spec = property(lambda self: BoxSpec(shape=(8, 12, 2)))
    action_spec = property(lambda self: BoxSpec(shape=(1,), low=-1.0, high=1.0))


def _roll(env, steps, key=0):
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    states = [reset(jax.random.key(key))]
    for _ in range(steps):
        states.append(step(states[-1], jnp.zeros(1)))
    return states


def test_patches_are_row_major_blocks_and_invert():
    image = Counter._image(0)
    patches = np.asarray(image_to_patches(image, 4))            # 2 x 3 patches of 4 x 4 x 2
    assert patches.shape == (6, 32)
    # Patch 4 is patch-row 1, patch-column 1: rows 4..7, columns 4..7; layout (row, column, frame).
    np.testing.assert_array_equal(patches[4].reshape(4, 4, 2), np.asarray(image)[4:8, 4:8, :])
    np.testing.assert_array_equal(np.asarray(patches_to_image(patches, 8, 12, 4)), np.asarray(image))
    env = PatchObservation(Counter(), 4)
    assert env.observation_spec.shape == (6, 32) and env.num_patches == 6
    np.testing.assert_array_equal(np.asarray(_roll(env, 1)[1].obs), np.asarray(image_to_patches(Counter._image(1), 4)))


def test_bad_patch_sizes_and_inputs_raise():
    with pytest.raises(ValueError, match="does not split into 5x5 patches; choose a patch size dividing both"):
        PatchObservation(Counter(), 5)
    with pytest.raises(ValueError, match="image observation"):
        PatchObservation(envs.make("pong_state"), 4)
    with pytest.raises(ValueError, match="PatchObservation first"):
        ShufflePatches(Counter())
    with pytest.raises(ValueError, match=r"num_shown must be an integer in \[1, 6\]"):
        OccludePatches(PatchObservation(Counter(), 4), 7)


def test_shuffle_keeps_one_permutation_per_episode_or_reshuffles_every_k():
    plain = PatchObservation(Counter(), 4)
    for reshuffle_every in (None, 3):
        states = _roll(ShufflePatches(plain, reshuffle_every), 7)
        perms = [np.asarray(s.info["patch_permutation"]) for s in states]
        for t, (state, perm) in enumerate(zip(states, perms)):
            assert sorted(perm) == list(range(6))
            expected = np.asarray(image_to_patches(Counter._image(t), 4))[perm]
            np.testing.assert_array_equal(np.asarray(state.obs), expected)
        changes = [t for t in range(1, 8) if not np.array_equal(perms[t], perms[t - 1])]
        if reshuffle_every is None:
            assert changes == []
        else:  # a new permutation after steps 3 and 6 (may rarely coincide with the old one)
            assert set(changes) <= {3, 6} and changes


def test_occlusion_shows_exactly_k_patches_and_resamples_as_asked():
    for resample_every in (1, None):
        env = with_patch_transforms(Counter(), 4, num_shown=2, resample_every=resample_every)
        states = _roll(env, 5)
        subsets = [np.asarray(s.info["shown_patches"]) for s in states]
        for t, (state, shown) in enumerate(zip(states, subsets)):
            assert shown.shape == (2,) and shown[0] < shown[1] and 0 <= shown.min() and shown.max() < 6
            full = np.asarray(image_to_patches(Counter._image(t), 4))
            np.testing.assert_array_equal(np.asarray(state.info["all_patches"]), full)
            np.testing.assert_array_equal(np.asarray(state.obs), full[shown])
        distinct = {tuple(s) for s in subsets}
        assert len(distinct) == 1 if resample_every is None else len(distinct) > 1
    shuffled = with_patch_transforms(Counter(), 4, shuffle=True, num_shown=3)
    state = _roll(shuffled, 2)[-1]
    full = np.asarray(image_to_patches(Counter._image(2), 4))
    perm, shown = np.asarray(state.info["patch_permutation"]), np.asarray(state.info["shown_patches"])
    np.testing.assert_array_equal(np.asarray(state.obs), full[perm][shown])
    assert shuffled.observation_spec.shape == (3, 32)


def test_patch_stack_on_pong_is_branch_free():
    env = TimeLimit(with_patch_transforms(envs.make("pong", episode_length=None), 4, reshuffle_every=5,
                                          num_shown=19), 1000)
    state = env.reset(jax.random.key(0))
    assert state.obs.shape == (19, 32)
    for fn, args in ((env.reset, (jax.random.key(0),)), (env.step, (state, jnp.zeros(1)))):
        text = str(jax.make_jaxpr(fn)(*args))
        assert "cond" not in text and "while" not in text
