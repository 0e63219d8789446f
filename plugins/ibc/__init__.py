"""Implicit behavioural cloning (Florence et al., CoRL 2021) as a simlab plug-in.

Registered through the `simlab.plugins` entry point `ibc` (pyproject.toml), exactly as a third party's plug-in:
it adds the N-D `particle` environment, the `block_push` task on simlab's physics engine, and the
`simlab ibc demos|train|eval` command.
"""
from __future__ import annotations

from simlab.plugins.ibc import block_push, particle


def register(ring) -> None:
    """Adds the plug-in's environments and its `simlab ibc` command to `ring` (a `simlab.ring.Ring`)."""
    ring.env("particle", particle.ParticleEnv, gym_name="Particle",
             description="IBC's N-D particle: reach goal 1, then goal 2 and stay (dim=N, 1..32)")
    ring.env("block_push", block_push.BlockPush, gym_name="BlockPush",
             description="IBC's block pushing on simlab's physics: push a box onto a target (multi_target=)")
    ring.command("ibc", "implicit behavioural cloning: demos, train, eval (plug-in)", "simlab.plugins.ibc.cli:main")
