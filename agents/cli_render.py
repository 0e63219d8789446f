"""`simlab render ENV [--checkpoint DIR] [--steps N] --out FILE.{png,gif,mp4}`.

Rolls out one environment on the host (random actions by default, or the
deterministic policy of a run trained with `simlab train`) and writes its frames:
a PNG of the last frame, or an animated GIF / MP4 of every frame at the control
rate. Finished episodes are reset with a new key, so a long rollout spans episodes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

from simlab import envs
from simlab.agents.loading import load_policy
from simlab.engine import io
from simlab.engine.specs import DiscreteSpec
from simlab.envs.boundary import check_seed

FORMATS = (".png", ".gif", ".mp4")


def add_render_parser(sub) -> None:
    p = sub.add_parser("render", help="render a rollout to PNG/GIF/MP4 (random or trained policy)")
    p.add_argument("env", help="registered environment with rendering (see `simlab envs`)")
    p.add_argument("--out", required=True, help="output file: .png (last frame), .gif or .mp4 (all frames)")
    p.add_argument("--checkpoint", default=None, help="run directory of `simlab train` (default: random actions)")
    p.add_argument("--steps", type=int, default=None, help="control steps to roll out (default 200; 0 for a png "
                                                           "of the initial state)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.set_defaults(func=cmd_render)


def _check_args(args) -> Path:
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(FORMATS)}, got {out.name!r}")
    if args.steps is not None and args.steps < 0:
        raise ValueError(f"--steps must be >= 0, got {args.steps}")
    if out.suffix.lower() != ".png" and args.steps == 0:
        raise ValueError("an animation needs --steps >= 1")
    if not (16 <= args.width <= 4096 and 16 <= args.height <= 4096):
        raise ValueError(f"--width/--height must lie in 16..4096, got {args.width}x{args.height}")
    return out


def policy_actor(env_name: str, env, checkpoint: str | None, seed: int):
    """`act(obs, rng) -> action` on the host: random uniform (`checkpoint` None), or the deterministic policy
    of the run in directory `checkpoint` (which must have been trained on `env_name`)."""
    spec = env.action_spec
    if checkpoint is None:
        if isinstance(spec, DiscreteSpec):
            return lambda obs, rng: np.asarray(rng.integers(0, spec.num_values), spec.dtype)
        low, high = np.asarray(spec.low), np.asarray(spec.high)
        return lambda obs, rng: rng.uniform(low, high).astype(spec.dtype)
    config_path = Path(checkpoint) / "config.json"
    if config_path.exists():
        trained_on = json.loads(config_path.read_text()).get("env")
        if trained_on != env_name:
            raise ValueError(f"--checkpoint {checkpoint} was trained on {trained_on!r}, not {env_name!r}")

    policy = load_policy(checkpoint, deterministic=True, seed=seed)
    return lambda obs, rng: np.asarray(policy(obs), spec.dtype)


def write_frames(frames: list[np.ndarray], out: Path, fps: float) -> None:
    """Writes one PNG (last frame), or a looping GIF / an H.264 MP4 of all frames, atomically."""
    import imageio.v3 as iio  # lazy: only writing frames needs it

    suffix = out.suffix.lower()
    with io.atomic_path(out, ".tmp" + suffix) as tmp:
        if suffix == ".png":
            iio.imwrite(tmp, frames[-1])
        elif suffix == ".gif":
            iio.imwrite(tmp, np.stack(frames), duration=1000.0 / fps, loop=0)
        else:
            try:
                import imageio_ffmpeg  # noqa: F401
            except ImportError:
                raise RuntimeError("writing .mp4 needs imageio-ffmpeg: `pip install imageio-ffmpeg` "
                                   "(or write a .gif)") from None
            iio.imwrite(tmp, np.stack(frames), fps=fps, codec="libx264", plugin="FFMPEG")


def render_to_file(env_name: str, out: Path, *, checkpoint: str | None = None, steps: int = 200, seed: int = 0,
                   width: int = 320, height: int = 240) -> int:
    """Renders a `steps`-step rollout of `env_name` (random actions, or the run in `checkpoint`) to `out`
    (.png: the last frame; .gif / .mp4: every frame at the control rate). Returns the frames written."""
    env = envs.make(env_name)
    frames, fps = render_rollout(env_name, steps, seed, width, height, policy_actor(env_name, env, checkpoint, seed))
    write_frames(frames, out, fps)
    return len(frames) if out.suffix.lower() != ".png" else 1


def render_rollout(env_name: str, steps: int, seed: int, width: int, height: int, act) -> tuple[list, float]:
    """Frames `[H, W, 3]` uint8 of a `steps`-step rollout of `env_name` (plus the initial one); and the fps."""


    env = envs.make(env_name)
    if not env.supports_rendering:
        raise ValueError(f"{env_name} cannot be rendered; environments with rendering: "
                         f"{', '.join(n for n in envs.names() if envs.make(n).supports_rendering)}")
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    key = jax.random.key(seed)
    key, reset_key = jax.random.split(key)
    state = reset(reset_key)
    rng = np.random.default_rng(seed)
    frames = [env.render_rgb(jax.device_get(state), width, height)]
    for _ in range(steps):
        state = step(state, act(np.asarray(state.obs), rng))
        if bool(state.done):
            key, reset_key = jax.random.split(key)
            state = reset(reset_key)
        frames.append(env.render_rgb(jax.device_get(state), width, height))
    fps = 1.0 / env.dt if env.dt > 0 else 30.0
    return frames, fps


def cmd_render(args) -> int:
    try:
        out = _check_args(args)

        check_seed(args.seed)
        steps = args.steps if args.steps is not None else 200
        written = render_to_file(args.env, out, checkpoint=args.checkpoint, steps=steps, seed=args.seed,
                                 width=args.width, height=args.height)
    except (ValueError, TypeError, KeyError, RuntimeError, FileNotFoundError) as err:
        print(f"simlab render: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({written} frame(s), {args.width}x{args.height})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simlab")
    add_render_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["render", *(argv or [])])
    return args.func(args)
