"""simlab: branch-free JAX simulation (rigid-body physics and recommender ecosystems) with in-process RL agents.

The installed packages, lowest layer first (a module imports only from its own layer or below;
`tests/test_layers.py` checks it):

    simlab.engine   the simulation core: env protocol, wrappers, rollouts, sharding, physics (engine.physics)
    simlab.envs     the environment registry and tasks;  simlab.recsim  recommender-ecosystem simulation
    simlab.agents   learners (PPO, SAC, APG, ES, behaviour cloning, HPP, sensory-neuron agents)
    simlab.cli      the `simlab` command-line dispatcher, extended through `simlab.commands`

    from simlab import envs
    env = envs.make("ant", num_envs=1024)

In a source checkout the folders engine/, envs/, agents/ and recsim/ are these packages (pyproject.toml
maps them under `simlab.`); bench/ and tests/ stay in the checkout and are not installed.
"""
__version__ = "0.1.0"
