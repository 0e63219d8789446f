"""The example in docs/recsim.md runs and does what it says."""
import pathlib
import re

import numpy as np

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "recsim.md"


def test_new_entity_and_story_example_runs(capsys):
    text = DOC.read_text()
    block = re.search(r"<!-- example -->\n```python\n(.*?)```", text, re.S)
    assert block, "docs/recsim.md lost its tested example block"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 40
    namespace = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    trajectory, runtime = namespace["trajectory"], namespace["runtime"]
    fatigue = np.asarray(trajectory["users"]["fatigue"])
    assert fatigue.shape == (51, 100) and np.all(fatigue >= 0) and fatigue[-1].mean() > 0
    assert np.isfinite(float(runtime.log_prob(trajectory)))
