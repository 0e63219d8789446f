"""Shared fixture: the headless OpenGL backend, or a skip that names why it is missing.

`.ci/run` installs OSMesa where neither EGL nor OSMesa is present, so CI renders.
"""
import pytest

from simlab.envs import mjrender


@pytest.fixture(scope="session")
def backend():
    try:
        return mjrender.backend()
    except mjrender.RenderBackendError as err:
        pytest.skip(f"no headless OpenGL backend on this machine: {err}")
