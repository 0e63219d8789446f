"""Rendezvous planner pieces: observation decoding, grid shortest paths, centroid goals."""
import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.hpp import planner
from simlab.envs.navigation import world
from simlab.envs.navigation.rendezvous import Rendezvous


def test_decode_observation_recovers_poses():
    env = Rendezvous(num_agents=3, team_noise=0.0, lidar_noise=0.0)
    state = jax.jit(env.reset)(jax.random.key(0))
    for i in range(3):
        scan, pose, team = planner.decode_observation(env, state.obs[i])
        np.testing.assert_allclose(pose[:2], state.sim.poses[i, :2], atol=1e-5)
        np.testing.assert_allclose(np.cos(pose[2]), np.cos(state.sim.poses[i, 2]), atol=1e-5)
        others = [j for j in range(3) if j != i]
        np.testing.assert_allclose(team, state.sim.poses[others, :2], atol=1e-5)
        assert scan.shape == (64,) and float(scan.min()) >= 0


def test_grid_path_lengths_go_around_a_wall():
    env = Rendezvous(num_agents=2, num_obstacles=1)
    # a wall from y = -4 to 4 at x = 0 (0.2 m thick): from (-2, 0) to (2, 0) one must go around it
    layout = world.Layout(jnp.array([[0.0, 0.0]]), jnp.array([[0.1, 4.0]]), jnp.array([0.0]))
    free = world.Layout(jnp.array([[0.0, 4.9]]), jnp.array([[0.05, 0.05]]), jnp.array([0.0]))
    sources = jnp.array([[-2.0, 0.0]])
    centres, lengths = planner.grid_path_lengths(env, free, sources)
    target = jnp.argmin(jnp.sum((centres - jnp.array([2.0, 0.0])) ** 2, axis=1))
    assert abs(float(lengths[0, target]) - 4.0) < 0.4  # free space: about the straight-line distance
    centres, lengths = planner.grid_path_lengths(env, layout, sources)
    detour = 2 * np.hypot(2.0, 4.2)  # over the wall's end, with the robot's clearance
    # 8-connected grid paths overestimate Euclidean length by up to 8 %, and blocked cells inflate the wall
    assert detour - 0.2 < float(lengths[0, target]) < 1.15 * detour


def test_centroid_goals_are_team_centroids():
    env = Rendezvous(num_agents=3, team_noise=0.0)
    state = env.reset(jax.random.key(4))
    init, plan = planner.make_centroid(env)
    goals = plan(init(state.obs), state.obs, jax.random.key(0)).goals
    np.testing.assert_allclose(goals, np.broadcast_to(state.sim.poses[:, :2].mean(axis=0), (3, 2)), atol=1e-4)
