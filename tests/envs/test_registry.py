"""The environment registry."""
import gymnasium
import pytest

from simlab import engine
from simlab import envs


def test_names_and_make():
    assert {"cartpole_swingup", "pendulum"} <= set(envs.names())
    env = envs.make("cartpole_swingup")
    assert env.observation_size == 5 and env.action_size == 1
    assert isinstance(env, engine.TimeLimit) and env.episode_length == 1000
    batched = envs.make("pendulum", num_envs=8)
    assert batched.num_envs == 8 and batched.observation_size == 3
    assert envs.make("pendulum", episode_length=None).__class__.__name__ == "Pendulum"


def test_unknown_name_lists_close_matches():
    with pytest.raises(envs.UnknownEnvironmentError, match="Did you mean 'cartpole_swingup'"):
        envs.make("cartpole_swingpu")
    with pytest.raises(KeyError, match="Registered: .*pendulum"):
        envs.make("humanoid_backflip")
    with pytest.raises(envs.UnknownEnvironmentError, match="'pendulum'"):
        envs.make("simlab/Pendulum-v0")  # gymnasium id given to simlab's make
    with pytest.raises(TypeError, match="must be a str"):
        envs.make(3)


def test_register_validates(monkeypatch):
    from simlab.envs import registry

    # a private copy of the registry, so the bad entry below does not leak into later tests (`simlab envs`)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ValueError, match="already registered"):
        envs.register("pendulum", lambda: None)
    with pytest.raises(ValueError, match="lower_snake_case"):
        envs.register("My-Env", lambda: None)
    with pytest.raises(TypeError, match="callable"):
        envs.register("not_callable_env", 3)
    envs.register("bad_factory_env", lambda: 3, gym=False)
    with pytest.raises(TypeError, match="not an engine.Env"):
        envs.make("bad_factory_env")


def test_every_env_is_registered_with_gymnasium():
    for name in envs.names():
        if not envs.entry(name).gym:
            assert envs.entry(name).gym_id not in gymnasium.registry
            continue
        gym_id = envs.entry(name).gym_id
        assert gym_id in gymnasium.registry
        assert gymnasium.registry[gym_id].vector_entry_point == "simlab.envs.gym_vector:SimlabVectorEnv"
