"""MJCF snippets and asset locators shared by the physics tests."""
from __future__ import annotations

import importlib.resources
import os

BRAX_MODELS = ("ant", "half_cheetah", "humanoid", "hopper", "walker2d", "reacher",
               "inverted_pendulum", "inverted_double_pendulum")


def brax_asset(name: str) -> str:
    """Path of a model shipped with the installed brax package."""
    return os.fspath(importlib.resources.files("brax") / "envs" / "assets" / f"{name}.xml")


def gym_asset(name: str) -> str:
    """Path of a model shipped with the installed gymnasium package."""
    return os.fspath(importlib.resources.files("gymnasium") / "envs" / "mujoco" / "assets" / f"{name}.xml")


def free_body(geom: str, *, z: float, gravity: str = "0 0 -9.81", timestep: float = 0.001,
              plane: bool = False, friction: float = 1.0) -> str:
    floor = f'<geom name="floor" type="plane" size="10 10 0.1" friction="{friction} 0.005 0.0001"/>' if plane else ""
    return f"""
<mujoco>
  <option timestep="{timestep}" gravity="{gravity}"/>
  <worldbody>
    {floor}
    <body name="body" pos="0 0 {z}">
      <freejoint/>
      {geom}
    </body>
  </worldbody>
</mujoco>"""


DOUBLE_PENDULUM = """
<mujoco>
  <option timestep="{timestep}" integrator="Euler"/>
  <worldbody>
    <body name="upper" pos="0 0 2">
      <joint name="shoulder" type="hinge" axis="0 1 0" damping="{damping}"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" mass="1"/>
      <body name="lower" pos="0 0 -0.5">
        <joint name="elbow" type="hinge" axis="0 1 0" damping="{damping}"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" mass="1"/>
      </body>
    </body>
  </worldbody>
</mujoco>"""

SIMPLE_PENDULUM = """
<mujoco>
  <option timestep="0.001"/>
  <worldbody>
    <body name="bob" pos="0 0 2">
      <joint name="pivot" type="hinge" axis="0 1 0"/>
      <geom type="sphere" pos="0 0 -1" size="0.02" mass="1"/>
    </body>
  </worldbody>
</mujoco>"""

LIMITED_ARM = """
<mujoco>
  <option timestep="0.005"/>
  <worldbody>
    <body name="arm" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" range="-45 45" limited="true" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0.5 0 0" size="0.04" mass="1"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hinge" gear="50" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>"""
