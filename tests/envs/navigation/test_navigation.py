"""The obstacle world, goal navigation and multi-agent rendezvous environments."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import engine
from simlab import envs
from simlab.envs.navigation import world

ONE_BOX = world.Layout(jnp.array([[2.0, 1.0]]), jnp.array([[0.5, 0.25]]), jnp.array([np.pi / 4]))
ONE_BOX_CONFIG = world.WorldConfig(arena=10.0, num_obstacles=1, max_range=8.0)


def test_lidar_hits_a_known_box_at_the_analytic_distance():
    # A box rotated by 45 degrees centred at (2, 1), half extents (0.5, 0.25). A ray from (2 - 3/sqrt2, 1 - 3/sqrt2)
    # along the box's long axis (45 degrees) hits the short face at distance 3 - 0.5 = 2.5.
    origin = jnp.array([2.0 - 3 / np.sqrt(2), 1.0 - 3 / np.sqrt(2)])
    d = world.raycast(ONE_BOX_CONFIG, ONE_BOX, origin, jnp.array([np.pi / 4]))
    np.testing.assert_allclose(d, [2.5], atol=1e-5)
    # Perpendicular approach hits the long face at 3 - 0.25.
    origin2 = jnp.array([2.0 + 3 / np.sqrt(2), 1.0 - 3 / np.sqrt(2)])
    np.testing.assert_allclose(world.raycast(ONE_BOX_CONFIG, ONE_BOX, origin2, jnp.array([3 * np.pi / 4])), [2.75],
                               atol=1e-5)
    # Rays that miss the box stop at the arena wall or at the max range.
    np.testing.assert_allclose(world.raycast(ONE_BOX_CONFIG, ONE_BOX, jnp.zeros(2), jnp.array([np.pi])), [8.0])
    near_wall = world.WorldConfig(arena=5.0, num_obstacles=1, max_range=8.0)
    np.testing.assert_allclose(world.raycast(near_wall, ONE_BOX, jnp.zeros(2), jnp.array([np.pi, -np.pi / 2])),
                               [5.0, 5.0], atol=1e-5)
    # The signed distance agrees with the ray distance along the face normal.
    np.testing.assert_allclose(world.signed_distance(ONE_BOX_CONFIG, ONE_BOX, origin2), 2.75, atol=1e-5)


@pytest.mark.parametrize("family", ["train", "heldout"])
def test_robots_never_pass_through_obstacles(family):
    env = envs.make("rendezvous", family=family, num_obstacles=8, episode_length=None)
    batch = engine.VmapWrapper(env, 8)
    state = jax.jit(batch.reset)(jax.random.key(1))

    def body(s, key):
        s = batch.step(s, jax.random.uniform(key, (8, 3, 2), minval=-1, maxval=1).at[..., 0].set(1.0))
        return s, s.sim.poses

    _, poses = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.key(2), 150)))(state)
    layouts = state.sim.layout
    cfg = env.world
    # every position, and every point on the segment between consecutive positions, stays outside obstacles
    path = jnp.concatenate([state.sim.poses[None, ..., :2], poses[..., :2]])  # [T+1, 16, 3, 2]
    alphas = jnp.linspace(0, 1, 5)
    seg = path[:-1, None] + alphas[None, :, None, None, None] * (path[1:] - path[:-1])[:, None]
    sdf = jax.jit(jax.vmap(lambda pts, lay: jax.vmap(lambda p: world.signed_distance(cfg, lay, p))(pts.reshape(-1, 2)),
                           in_axes=(2, 0)))(seg, layouts)
    assert float(sdf.min()) > 0.0  # robot centres never enter an obstacle
    positions = poses[..., :2].transpose(1, 0, 2, 3).reshape(8, -1, 2)  # [envs, T * agents, 2]
    final = jax.jit(jax.vmap(lambda pts, lay: jax.vmap(lambda p: world.signed_distance(cfg, lay, p))(pts)))(
        positions, layouts)
    assert float(final.min()) > env.robot.radius - 0.02  # discs keep (almost) their radius of clearance


def test_reset_and_step_are_branch_free():
    for name in ("rendezvous", "goal_navigation"):
        env = envs.make(name, num_envs=4)
        state = jax.eval_shape(env.reset, jax.random.key(0))  # shapes suffice: nothing is executed
        engine.branchfree.assert_branch_free(env.reset, jax.random.key(0))
        engine.branchfree.assert_branch_free(env.step, state, jnp.zeros((4, *env.action_spec.shape)))


def test_rendezvous_observations_rewards_and_success():
    env = envs.make("rendezvous", num_agents=3, num_obstacles=0)
    state = jax.jit(env.reset)(jax.random.key(0))
    assert state.obs.shape == (3, 64 + 4 + 4) and state.reward.shape == (3,)
    gathered = state.sim.poses.at[:, :2].set(jnp.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.3]]))
    state = jax.jit(env.step)(state.replace(sim=state.sim.replace(poses=gathered)), jnp.zeros((3, 2)))
    assert bool(state.terminated) and float(state.metrics["success"]) == 1.0
    np.testing.assert_allclose(state.reward, np.full(3, 10.0 - np.hypot(0.3, 0.3) * 0.1 / 5.0), rtol=1e-5)
    # teammate features: agent 0 sees agents 1 and 2 (noisy) at their positions / arena
    np.testing.assert_allclose(np.asarray(state.obs[0, 68:70]) * 5.0, [0.3, 0.0], atol=0.5)
    frame = env.unwrapped.render_rgb(jax.device_get(state))
    assert frame.shape == (320, 320, 3) and len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4  # robots + walls


def test_layout_families_differ():
    train = world.sample_layout(world.WorldConfig(family="train"), jax.random.key(0))
    held = world.sample_layout(world.WorldConfig(family="heldout"), jax.random.key(0))
    assert float(train.half_extents.min()) >= 0.3
    assert float(held.half_extents[:, 0].min()) >= 0.8 and float(held.half_extents[:, 1].max()) <= 0.3
    with pytest.raises(ValueError, match="family"):
        world.WorldConfig(family="test")


def test_line_of_sight_and_the_success_test():
    # A wall along x = 0 from y = -1 to y = 1: points on either side see each other only around its end.
    wall = world.Layout(jnp.array([[0.0, 0.0]]), jnp.array([[0.1, 1.0]]), jnp.array([0.0]))
    cfg = world.WorldConfig(arena=5.0, num_obstacles=1)
    assert not bool(world.visible(cfg, wall, jnp.array([-0.4, 0.0]), jnp.array([0.4, 0.0])))
    assert bool(world.visible(cfg, wall, jnp.array([-0.4, 1.5]), jnp.array([0.4, 1.5])))
    assert bool(world.visible(cfg, wall, jnp.array([-0.4, 0.0]), jnp.array([-0.4, 0.9])))
    # Two robots 0.8 m apart but on opposite sides of the wall have not met; with line_of_sight=False they have.
    for los, expected in ((True, False), (False, True)):
        env = envs.make("rendezvous", num_agents=2, num_obstacles=1, line_of_sight=los, episode_length=None)
        state = jax.jit(env.reset)(jax.random.key(0))
        sim = state.sim.replace(layout=wall, poses=jnp.array([[-0.4, 0.0, 0.0], [0.4, 0.0, 0.0]]))
        assert bool(jax.jit(env.step)(state.replace(sim=sim), jnp.zeros((2, 2))).terminated) == expected


def test_rendezvous_starts_are_mutually_reachable():
    # Dense large blocks often split the free space; every agent must be able to reach agent 0.
    env = envs.make("rendezvous", num_agents=3, num_obstacles=10, family="blocks", episode_length=None)
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(4), 32))
    lengths_to_first = jax.jit(jax.vmap(
        lambda lay, p: world.path_lengths(env.world, lay, p[:1, :2], env.robot.radius)))
    centres, lengths = lengths_to_first(states.sim.layout, states.sim.poses)
    h = 2 * env.world.arena / 48
    index = np.clip(((np.asarray(states.sim.poses[..., :2]) + env.world.arena) / h).astype(int), 0, 47)
    flat = index[..., 0] * 48 + index[..., 1]  # [32, 3]
    reach = np.take_along_axis(np.asarray(lengths[:, 0]), flat, axis=1)
    assert np.isfinite(reach).mean() > 0.95  # (the fallback keeps the best of 8 draws when none connects)
    unconnected = envs.make("rendezvous", num_agents=3, num_obstacles=10, family="blocks", connected_starts=False,
                            episode_length=None)
    assert jax.jit(unconnected.reset)(jax.random.key(0)).sim.poses.shape == (3, 3)
