"""Keep MuJoCo's C-library warnings out of the terminal and out of `MUJOCO_LOG.TXT`.

MuJoCo prints a warning such as "compiler attribute 'settotalmass' is deprecated" (from gymnasium's
installed `half_cheetah.xml`) to stdout and appends it to `MUJOCO_LOG.TXT` in the working directory.
Inside `quiet_mujoco()` its warning callback is replaced: deprecation notices become Python
`DeprecationWarning`s (hidden by default) and other warnings `MujocoWarning`s (shown once per
message by Python's default filter), and no file is written. The previous callback is restored on exit.

    with quiet_mujoco():
        model = mujoco.MjModel.from_xml_path(path)
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import mujoco


class MujocoWarning(UserWarning):
    """A warning from MuJoCo's C library, re-issued through Python's `warnings`."""


def _reissue(message: str) -> None:
    text = f"MuJoCo: {message.strip()}"
    category = DeprecationWarning if "deprecated" in message.lower() else MujocoWarning
    warnings.warn(text, category, stacklevel=4)  # _reissue, this generator, contextlib, the `with` block


@contextlib.contextmanager
def quiet_mujoco() -> Iterator[list[str]]:
    """Within the block, MuJoCo warnings are collected (the yielded list), re-issued as Python warnings on
    exit and never printed or logged to `MUJOCO_LOG.TXT`."""
    setter = getattr(mujoco, "set_mju_user_warning", None)
    getter = getattr(mujoco, "get_mju_user_warning", None)
    if setter is None or getter is None:  # very old bindings: nothing to redirect
        yield []
        return
    collected: list[str] = []
    previous = getter()
    setter(collected.append)
    try:
        yield collected
    finally:
        setter(previous)
        for message in collected:
            _reissue(message)
