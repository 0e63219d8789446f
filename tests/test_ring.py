"""The plug-in ring (issue 19, item 1): a third party's package, found through the `simlab.plugins` entry-point
group, adds an environment, an agent and a command; a broken or clashing plug-in is reported by name and the
rest keeps working. The plug-ins are "installed" the way pip leaves them: a package plus a *.dist-info
directory with entry_points.txt, on a temporary directory put on PYTHONPATH of a fresh interpreter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _install(site: Path, name: str, entry: str, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[simlab.plugins]\n{entry}\n")


CHECK = """
import json
from simlab import cli, envs
from simlab.agents import registry
cli.main(["plugins", "--json"])
print("ENV", envs.make("toy_pendulum").observation_size)
print("AGENT", type(registry.make_agent("toy_es", "pendulum", {"population_size": 4, "num_episodes": 1})).__name__)
print("CODE", cli.main(["toy", "hello"]))
"""


def test_a_third_party_plugin_contributes_and_a_broken_one_is_reported(tmp_path):
    site = tmp_path / "site"
    _install(site, "toyplug", "toy = toyplug:register", {
        "toyplug/__init__.py": """
            from simlab.agents.es.learner import ESLearnerConfig, make_es_learner
            from simlab.envs.classic.pendulum import Pendulum

            def register(ring):
                ring.env("toy_pendulum", Pendulum, gym_name="ToyPendulum")
                ring.agent("toy_es", make_es_learner, ESLearnerConfig)
                ring.command("toy", "a toy command", "toyplug.cli:main")
            """,
        "toyplug/cli.py": """
            def main(argv):
                print("toy says", argv)
                return 0
            """})
    _install(site, "brokenplug", "broken = brokenplug:register", {
        "brokenplug/__init__.py": "import a_module_that_does_not_exist\n"})
    _install(site, "clashplug", "clash = clashplug:register", {
        "clashplug/__init__.py": """
            from simlab.envs.classic.pendulum import Pendulum

            def register(ring):
                ring.env("pendulum", Pendulum)
            """})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    report = {p["name"]: p for p in json.loads(out[:out.index("ENV ")])["plugins"]}
    assert report["toy"] == {"name": "toy", "envs": ["toy_pendulum"], "agents": ["toy_es"], "commands": ["toy"],
                             "error": None}
    assert report["broken"]["error"].startswith("ModuleNotFoundError") and "a_module_that_does_not_exist" in \
        report["broken"]["error"]
    assert "already registered" in report["clash"]["error"]
    assert "ENV 3" in out and "AGENT ESLearner" in out
    assert "toy says ['hello']" in out and "CODE 0" in out
