"""`simlab render`: PNG/GIF output and argument errors."""
from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from simlab.cli import main
from simlab.agents.cli_render import write_frames


def test_render_png_of_the_initial_state(tmp_path, capsys, backend):
    out = tmp_path / "ur5e.png"
    assert main(["render", "ur5e", "--steps", "0", "--width", "64", "--height", "48", "--out", str(out)]) == 0
    frame = iio.imread(out)
    assert frame.shape == (48, 64, 3) and frame.std() > 10
    assert "wrote" in capsys.readouterr().out


def test_gif_keeps_every_frame_in_order(tmp_path):
    frames = [np.full((20, 30, 3), 40 * i, np.uint8) for i in range(5)]
    write_frames(frames, tmp_path / "a.gif", fps=20.0)
    back = iio.imread(tmp_path / "a.gif", index=None)
    assert back.shape[:3] == (5, 20, 30)
    np.testing.assert_allclose(back[..., :3].mean(axis=(1, 2, 3)), [40 * i for i in range(5)], atol=2)


@pytest.mark.parametrize("argv, message", [
    (["render", "ur5e", "--out", "x.txt"], "--out must end in one of .png, .gif, .mp4"),
    (["render", "ur5e", "--steps", "0", "--out", "x.gif"], "an animation needs --steps >= 1"),
    (["render", "ur5e", "--steps", "-1", "--out", "x.png"], "--steps must be >= 0"),
    (["render", "no_such_env", "--out", "x.png"], "unknown environment 'no_such_env'"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
