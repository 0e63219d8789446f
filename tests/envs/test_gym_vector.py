"""The gymnasium VectorEnv adapter: autoreset modes, masks, partial resets, wrappers."""
import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

from simlab import envs

ID = "simlab/CartPoleSwingUp-v0"


def make_vec(num_envs, **kw):
    return gymnasium.make_vec(ID, num_envs=num_envs, vectorization_mode="vector_entry_point", **kw)


@pytest.fixture(scope="module")
def venv_1024():
    return make_vec(1024)


def test_spaces_and_metadata(venv_1024):
    v = venv_1024
    assert v.num_envs == 1024
    assert isinstance(v.metadata["autoreset_mode"], AutoresetMode)
    assert v.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert v.observation_space == gymnasium.vector.utils.batch_space(v.single_observation_space, 1024)
    assert v.action_space == gymnasium.vector.utils.batch_space(v.single_action_space, 1024)
    assert v.single_observation_space.shape == (5,)


def test_next_step_autoreset_semantics(venv_1024):
    v = venv_1024
    obs, info = v.reset(seed=0)
    assert obs.shape == (1024, 5) and obs.dtype == np.float32 and info == {}
    prev_done = np.zeros(1024, bool)
    checked_resets = 0
    for _ in range(30):
        actions = v.action_space.sample()
        obs, rew, term, trunc, info = v.step(actions)
        assert isinstance(obs, np.ndarray) and rew.shape == (1024,) and term.dtype == np.bool_
        # The step after a finished episode is a reset step: reward 0, flags False, action ignored.
        assert np.all(rew[prev_done] == 0) and not term[prev_done].any() and not trunc[prev_done].any()
        assert not info["_reward_upright"][prev_done].any() and info["_reward_upright"][~prev_done].all()
        # Reset observations lie in the reset distribution (theta near pi, within the cart limits).
        theta = np.arctan2(obs[prev_done, 3], obs[prev_done, 2])
        assert np.all(np.abs(np.abs(theta) - np.pi) <= np.pi / 2 + 1e-4)
        checked_resets += int(prev_done.sum())
        # terminated <=> the cart left the track
        np.testing.assert_array_equal(term, np.abs(obs[:, 0]) > 2.4)
        prev_done = term | trunc
    assert checked_resets > 50  # the wide resets make many episodes end early


def test_same_step_mode_reports_final_obs():
    v = make_vec(64, autoreset_mode=AutoresetMode.SAME_STEP)
    assert v.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    v.reset(seed=1)
    seen = 0
    for _ in range(20):
        obs, rew, term, trunc, info = v.step(v.action_space.sample())
        done = term | trunc
        if done.any():
            np.testing.assert_array_equal(info["_final_obs"], done)
            np.testing.assert_array_equal(info["_final_info"], done)
            for i in np.flatnonzero(done):
                final = info["final_obs"][i]
                assert final.shape == (5,) and abs(final[0]) > 2.4 or trunc[i]
                assert abs(obs[i, 0]) <= 2.4  # already reset
            assert all(x is None for x in info["final_obs"][~done])
            assert info["final_info"]["_reward_upright"][done].all()
            assert not info["_reward_upright"][done].any()
            seen += int(done.sum())
    assert seen > 0


def test_partial_reset_with_mask():
    v = make_vec(16, autoreset_mode=AutoresetMode.DISABLED)
    obs0, _ = v.reset(seed=2)
    obs1, *_ = v.step(np.zeros((16, 1), np.float32))
    mask = np.zeros(16, bool)
    mask[[1, 5, 9]] = True
    obs2, info = v.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(obs2[~mask], obs1[~mask])  # untouched
    assert not np.any(np.all(obs2[mask] == obs1[mask], axis=1))  # fresh states
    assert not np.any(np.all(obs2[mask] == obs0[mask], axis=1))  # not the cached first ones
    with pytest.raises(ValueError, match="reset_mask"):
        v.reset(options={"reset_mask": np.ones(3, bool)})
    with pytest.raises(ValueError, match="reset_mask"):
        v.reset(options={"reset_mask": np.ones(16, int)})
    with pytest.raises(ValueError, match="unsupported reset options"):
        v.reset(options={"foo": 1})


def test_disabled_mode_does_not_reset():
    v = gymnasium.make_vec("simlab/Pendulum-v0", num_envs=8, vectorization_mode="vector_entry_point",
                           autoreset_mode="disabled", episode_length=3)
    v.reset(seed=0)
    truncs = [v.step(np.zeros((8, 1), np.float32))[3] for _ in range(4)]
    assert not truncs[1].any() and truncs[2].all() and truncs[3].all()  # stays past the limit until reset


def test_seeding_is_reproducible_and_seed_lists_work():
    a, b = make_vec(8), make_vec(8)
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    acts = np.full((8, 1), 0.5, np.float32)
    for _ in range(40):
        np.testing.assert_array_equal(a.step(acts)[0], b.step(acts)[0])
    obs, _ = a.reset(seed=list(range(8)))
    obs_again, _ = b.reset(seed=list(range(8)))
    np.testing.assert_array_equal(obs, obs_again)
    with pytest.raises(ValueError, match="num_envs=8"):
        a.reset(seed=[1, 2])


def test_one_compiled_program_no_retracing():
    v = make_vec(32)
    v.reset(seed=0)
    for _ in range(60):  # the number of finished envs varies from step to step
        v.step(v.action_space.sample())
    v.reset(options={"reset_mask": np.arange(32) % 2 == 0})
    v.reset(seed=9)
    assert v.unwrapped._step_fn._cache_size() == 1
    assert v.unwrapped._reset_fn._cache_size() == 1


def test_gymnasium_vector_wrappers_work():
    v = RecordEpisodeStatistics(NormalizeObservation(make_vec(16)))
    v.reset(seed=3)
    returns = np.zeros(16)
    prev_done = np.zeros(16, bool)
    recorded = []
    for _ in range(200):
        obs, rew, term, trunc, info = v.step(v.action_space.sample())
        assert abs(float(obs.mean())) < 5  # normalized
        returns = np.where(prev_done, 0.0, returns) + np.where(prev_done, 0.0, rew)
        done = term | trunc
        if "episode" in info:
            for i in np.flatnonzero(info["_episode"]):
                recorded.append((info["episode"]["r"][i], returns[i]))
        prev_done = done
    assert len(recorded) > 10
    np.testing.assert_allclose([r for r, _ in recorded], [m for _, m in recorded], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("actions, error, message", [
    (np.zeros((4, 1), np.float32), ValueError, r"shape \(8, 1\), got \(4, 1\)"),
    (np.zeros((1,), np.float32), ValueError, "one action per sub-environment"),
    (np.zeros((8, 1), np.complex64), TypeError, "real numbers"),
    (np.full((8, 1), np.nan, np.float32), ValueError, "NaN"),
])
def test_bad_actions(actions, error, message):
    v = make_vec(8)
    v.reset(seed=0)
    with pytest.raises(error, match=message):
        v.step(actions)


def test_bad_constructor_arguments():
    from simlab.envs.gym_vector import SimlabVectorEnv
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        SimlabVectorEnv("pendulum", 4, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="num_envs"):
        SimlabVectorEnv("pendulum", 0)
    with pytest.raises(ValueError, match="seed"):
        SimlabVectorEnv("pendulum", 2).reset(seed=-5)


def test_vector_render_returns_one_frame_per_env():
    v = make_vec(3, render_mode="rgb_array")
    v.reset(seed=0)
    frames = v.render()
    assert len(frames) == 3 and frames[0].shape == (240, 320, 3)
