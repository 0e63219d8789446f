"""Headless CPU rendering of physics states with MuJoCo's OpenGL renderer.

    frame = render_physics("ant.xml", q, 320, 240, track_body=1,
                           markers=[Marker(pos=(2.0, 1.0, 0.1), size=0.1)])   # uint8 [240, 320, 3]

Our engine keeps `q` in MuJoCo's `qpos` layout (same joints, same order, free
joints as xyz + wxyz quaternion), so drawing a state is: copy `q` into an
`MjData`, `mj_forward`, build the scene, add marker geoms (targets), render
offscreen and read the pixels back.

Backend. The OpenGL platform is picked once per process: `MUJOCO_GL=egl` or
`MUJOCO_GL=osmesa` if set, otherwise the first of EGL (mesa's software EGL works
on a machine without a GPU) and OSMesa that can render a test frame in a
subprocess. PyOpenGL binds one platform per process, so the choice cannot be
changed afterwards. We create the GL context ourselves (`mujoco.egl` /
`mujoco.osmesa`) rather than through `mujoco.Renderer`, whose backend is fixed
by `MUJOCO_GL` at the moment `mujoco` is first imported (our physics loader
imports it long before anything renders). If no backend works, the error names
the fix: `apt-get install -y libosmesa6` (or mesa's `libegl1 libgl1-mesa-dri`).

`MujocoRenderMixin` gives any environment with `self.mjcf_path` (path or XML of the
model it simulates) a `render_rgb(state, width, height)`.
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import subprocess
import sys
from typing import Any, Sequence

import mujoco
import numpy as np

from simlab.engine.mujoco_log import quiet_mujoco

_BACKENDS = ("egl", "osmesa")
_FIX = ("install a headless OpenGL library, e.g. `apt-get install -y libosmesa6` (then MUJOCO_GL=osmesa) "
        "or mesa's EGL (`apt-get install -y libegl1 libgl1-mesa-dri`, then MUJOCO_GL=egl)")
_PROBE = """
import mujoco
from mujoco.{backend} import GLContext
ctx = GLContext(16, 16); ctx.make_current()
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom type="sphere" size="1"/></worldbody></mujoco>')
con = mujoco.MjrContext(m, mujoco.mjtFontScale.mjFONTSCALE_100)
con.free(); ctx.free()
"""


class RenderBackendError(RuntimeError):
    """No headless OpenGL backend could be initialized."""


@dataclasses.dataclass(frozen=True)
class Marker:
    """A visual-only sphere added to the scene (e.g. a goal). Units: m; rgba in [0, 1]."""

    pos: Sequence[float]
    size: float = 0.05
    rgba: Sequence[float] = (0.90, 0.15, 0.15, 0.85)


@dataclasses.dataclass(frozen=True)
class Camera:
    """A free camera that looks at the tracked body (and the markers).

    distance: metres from the look-at point; None: 3 x the robot's radius (its moving geoms'
      bounding spheres around the tracked body) + 0.3 m. Grown to keep markers in view
      when `fit_markers`.
    azimuth, elevation: degrees (MuJoCo's convention; elevation < 0 looks down).
    lookat_offset: added to the tracked body's position.
    """

    distance: float | None = None
    azimuth: float = 135.0
    elevation: float = -25.0
    lookat_offset: Sequence[float] = (0.0, 0.0, 0.0)
    fit_markers: bool = True


_backend: str | None = None


def _probe(backend: str) -> str | None:
    """None if `backend` renders in a fresh interpreter, else the error text."""
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE.format(backend=backend)], env=env,
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "timed out"
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def backend() -> str:
    """The OpenGL platform used in this process ('egl' or 'osmesa'); chosen on first use."""
    global _backend
    if _backend is not None:
        return _backend
    requested = os.environ.get("MUJOCO_GL", "").strip().lower()
    if requested in _BACKENDS:
        candidates = (requested,)
    elif requested in ("", "glfw", "glx"):
        candidates = _BACKENDS
    else:
        raise RenderBackendError(f"MUJOCO_GL={requested!r} cannot render headless; unset it or use egl/osmesa")
    pinned = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
    if pinned:
        if pinned not in candidates:
            raise RenderBackendError(f"PYOPENGL_PLATFORM={pinned!r} is set; unset it or set it to one of {candidates}")
        candidates = (pinned,)
    errors = {}
    for name in candidates:
        error = _probe(name)
        if error is None:
            os.environ["PYOPENGL_PLATFORM"] = name  # before PyOpenGL is first imported
            _backend = name
            return name
        errors[name] = error
    tried = "; ".join(f"{k}: {v}" for k, v in errors.items())
    raise RenderBackendError(f"no headless OpenGL backend works ({tried}). To fix: {_FIX}.")


def _gl_context(width: int, height: int):
    name = backend()
    if name == "egl":  # lazy: loading a GL library that is not there fails, so only the chosen one is imported
        from mujoco.egl import GLContext
    else:
        from mujoco.osmesa import GLContext
    return GLContext(width, height)


def _compile(mjcf) -> Any:
    if isinstance(mjcf, mujoco.MjModel):
        return mjcf
    text = os.fspath(mjcf)
    with quiet_mujoco():  # compiler deprecations become Python warnings, not lines on stdout
        if text.lstrip().startswith("<"):
            return mujoco.MjModel.from_xml_string(text)
        return mujoco.MjModel.from_xml_path(text)


class SceneRenderer:
    """Offscreen renderer of one model at one resolution (owns a GL context; call `close`)."""

    MAX_MARKERS = 16

    def __init__(self, mjcf, width: int, height: int):
        if int(width) < 16 or int(height) < 16 or width > 4096 or height > 4096:
            raise ValueError(f"frame size must be within 16..4096 pixels, got {width}x{height}")
        self.width, self.height = int(width), int(height)
        self.model = _compile(mjcf)
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, self.width)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, self.height)
        self.data = mujoco.MjData(self.model)
        self._context = _gl_context(self.width, self.height)
        self._context.make_current()
        self._mjr = mujoco.MjrContext(self.model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr)
        self._scene = mujoco.MjvScene(self.model, maxgeom=2000)
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self._viewport = mujoco.MjrRect(0, 0, self.width, self.height)
        self._pixels = np.empty((self.height, self.width, 3), np.uint8)

    def render(self, q, track_body: int | str = 1, markers: Sequence[Marker] = (),
               camera: Camera = Camera()) -> np.ndarray:
        """Frame `[height, width, 3]` uint8 of configuration `q` `[nq]` (MuJoCo qpos layout)."""
        q = np.asarray(q, np.float64).reshape(-1)
        if q.shape != (self.model.nq,):
            raise ValueError(f"q must have shape ({self.model.nq},) for this model, got {q.shape}; "
                             "render one (unbatched) state at a time")
        if not np.all(np.isfinite(q)):
            raise ValueError("cannot render a non-finite configuration (q holds NaN or inf)")
        if len(markers) > self.MAX_MARKERS:
            raise ValueError(f"at most {self.MAX_MARKERS} markers, got {len(markers)}")
        body = self.model.body(track_body).id if isinstance(track_body, str) else int(track_body)
        self.data.qpos[:] = q
        mujoco.mj_forward(self.model, self.data)
        lookat = self.data.xpos[body] + np.asarray(camera.lookat_offset, np.float64)
        distance = camera.distance if camera.distance is not None else 3.0 * self._robot_radius(lookat) + 0.3
        if camera.fit_markers and markers:
            points = np.array([m.pos for m in markers], np.float64)
            centre = (points.sum(0) + lookat) / (len(points) + 1)
            spread = np.max(np.linalg.norm(np.vstack([points, lookat]) - centre, axis=1))
            lookat, distance = centre, max(distance, 2.4 * spread + 0.5)
        self._camera.lookat[:] = lookat
        self._camera.distance, self._camera.azimuth, self._camera.elevation = (
            distance, camera.azimuth, camera.elevation)
        self._context.make_current()
        mujoco.mjv_updateScene(self.model, self.data, self._option, None, self._camera,
                               mujoco.mjtCatBit.mjCAT_ALL, self._scene)
        for marker in markers:
            if self._scene.ngeom >= self._scene.maxgeom:
                break
            mujoco.mjv_initGeom(self._scene.geoms[self._scene.ngeom], int(mujoco.mjtGeom.mjGEOM_SPHERE),
                                np.full(3, marker.size), np.asarray(marker.pos, np.float64), np.eye(3).ravel(),
                                np.asarray(marker.rgba, np.float32))
            self._scene.ngeom += 1
        mujoco.mjr_render(self._viewport, self._scene, self._mjr)
        mujoco.mjr_readPixels(self._pixels, None, self._viewport, self._mjr)
        return np.flipud(self._pixels).copy()

    def _robot_radius(self, centre: np.ndarray) -> float:
        """Radius around `centre` of the geoms on moving bodies (planes and world geoms excluded)."""
        moving = (self.model.geom_bodyid > 0) & (self.model.geom_type != int(mujoco.mjtGeom.mjGEOM_PLANE))
        if not np.any(moving):
            return 1.0
        reach = np.linalg.norm(self.data.geom_xpos[moving] - centre, axis=1) + self.model.geom_rbound[moving]
        return float(np.max(reach))

    def close(self) -> None:
        """Frees the GL resources (PyOpenGL complains at exit about contexts left open)."""
        if getattr(self, "_context", None) is not None:
            self._context.make_current()
            self._mjr.free()
            self._context.free()
            self._context = None


_renderers: dict[tuple, SceneRenderer] = {}


def _cache_key(mjcf, width: int, height: int) -> tuple:
    return (id(mjcf) if not isinstance(mjcf, (str, os.PathLike)) else os.fspath(mjcf), int(width), int(height))


def render_physics(mjcf, q, width: int = 320, height: int = 240, *, track_body: int | str = 1,
                   markers: Sequence[Marker] = (), camera: Camera = Camera()) -> np.ndarray:
    """Renders configuration `q` `[nq]` of model `mjcf` (path, XML string or MjModel).

    Returns a `[height, width, 3]` uint8 frame. Renderers are cached per
    (model, size) for the life of the process and closed at exit.
    """
    global _exit_hook
    key = _cache_key(mjcf, width, height)
    renderer = _renderers.get(key)
    if renderer is None:
        renderer = _renderers[key] = SceneRenderer(mjcf, width, height)
        if not _exit_hook:  # registered after the GL backend's own hook, so it runs before it
            atexit.register(close_all)
            _exit_hook = True
    return renderer.render(q, track_body, markers, camera)


_exit_hook = False


def close_all() -> None:
    """Closes every cached renderer."""
    while _renderers:
        _, renderer = _renderers.popitem()
        renderer.close()


class MujocoRenderMixin:
    """`render_rgb` for an environment whose `self.mjcf_path` is the model it simulates.

    Put it before `engine.Env` in the bases. Override `render_q` if `state.sim` is
    not the physics state, `render_markers` to draw targets, and the class
    attributes `render_track_body` / `render_camera` to frame the robot.
    """

    render_track_body: int | str = 1
    render_camera: Camera = Camera()

    def render_q(self, state) -> np.ndarray:
        """`q` `[nq]` of an unbatched state (default: `state.sim.q`)."""
        return np.asarray(state.sim.q)

    def render_markers(self, state) -> Sequence[Marker]:
        """Visual markers (targets) for an unbatched state; none by default."""
        return ()

    def render_rgb(self, state, width: int = 320, height: int = 240) -> np.ndarray:
        """An `[height, width, 3]` uint8 frame of an unbatched state (host NumPy)."""
        return render_physics(self.mjcf_path, self.render_q(state), width, height, track_body=self.render_track_body,
                              markers=self.render_markers(state), camera=self.render_camera)
