"""The plug-in ring: packages that add environments, agents and `simlab` commands through entry points.

A plug-in is any installed distribution that declares, in its own pyproject.toml,

    [project.entry-points."simlab.plugins"]
    myplugin = "my_package.simlab_plugin:register"

where `register(ring: simlab.ring.Ring) -> None` adds what the plug-in contributes:

    def register(ring):
        ring.env("my_env", MyEnv, description="...")                      # envs.make("my_env"), simlab envs
        ring.agent("my_agent", make_my_agent, MyAgentConfig)               # simlab train ENV --agent my_agent
        ring.command("mytool", "what it does", "my_package.cli:main")      # simlab mytool ...

simlab's own plug-ins (plugins/) are declared in simlab's pyproject.toml the same way. The core never
imports a plug-in: only this module, at the top of the import graph, loads them (`load_all`, called by the
`simlab` dispatcher). A plug-in that fails to import or register, or whose names clash with taken ones, is
reported by name (`simlab plugins`) and skipped; the core and the other plug-ins keep working.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
from typing import Any, Callable

from simlab import commands, envs
from simlab.agents import registry

GROUP = "simlab.plugins"


@dataclasses.dataclass
class PluginReport:
    """What one plug-in contributed, or why it could not be loaded (`error`, None when it loaded)."""

    name: str
    target: str
    envs: list[str] = dataclasses.field(default_factory=list)
    agents: list[str] = dataclasses.field(default_factory=list)
    commands: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "envs": self.envs, "agents": self.agents, "commands": self.commands,
                "error": self.error}


class Ring:
    """Handed to a plug-in's `register`: each method adds one contribution, recorded in the plug-in's report."""

    def __init__(self, report: PluginReport):
        self._report = report

    def env(self, name: str, factory: Callable, **register_kwargs) -> None:
        """Registers environment `name` (see `simlab.envs.register` for the keyword arguments)."""
        envs.register(name, factory, **register_kwargs)
        self._report.envs.append(name)

    def agent(self, name: str, factory: Callable, config_cls: type) -> None:
        """Registers agent `name` (see `simlab.agents.registry.register_agent`)."""
        registry.register_agent(name, factory, config_cls)
        self._report.agents.append(name)

    def command(self, name: str, help: str, target: str, kind: str = "forward") -> None:
        """Registers `simlab NAME` (see `simlab.commands.Command`; `target` is "module:attribute")."""
        commands.register(commands.Command(name, help, target, kind=kind, owner=self._report.name))
        self._report.commands.append(name)


_REPORTS: list[PluginReport] | None = None


def _load(entry_point: importlib.metadata.EntryPoint) -> PluginReport:
    report = PluginReport(entry_point.name, entry_point.value)
    try:
        register = entry_point.load()
        if not callable(register):
            raise TypeError(f"{entry_point.value} is not a function register(ring)")
        register(Ring(report))
    except Exception as err:  # a broken plug-in is reported, never fatal to the core or the others
        report.error = f"{type(err).__name__}: {err}"
    return report


def load_all() -> list[PluginReport]:
    """Loads every installed plug-in once (later calls return the same reports), in entry-point name order."""
    global _REPORTS
    if _REPORTS is None:
        points = sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: ep.name)
        _REPORTS = [_load(ep) for ep in points]
    return _REPORTS


def build_parser() -> argparse.ArgumentParser:
    """The parser of `simlab plugins`."""
    parser = argparse.ArgumentParser(prog="simlab plugins",
                                     description="The installed plug-ins, what each contributes, and any load error.")
    parser.add_argument("--json", action="store_true", help='print {"plugins": [{"name", "envs", "agents", '
                                                              '"commands", "error"}]}')
    return parser


def main(argv: list[str]) -> int:
    """`simlab plugins [--json]`: the installed plug-ins, what each contributes, and any load error."""
    args = build_parser().parse_args(argv)
    reports = load_all()
    if args.json:
        print(json.dumps({"plugins": [r.as_json() for r in reports]}, indent=2))
        return 0
    if not reports:
        print(f"no simlab plug-ins installed (entry-point group {GROUP!r}; see docs/plugins.md)")
    for r in reports:
        if r.error:
            print(f"{r.name} ({r.target}): FAILED to load: {r.error}")
        else:
            print(f"{r.name} ({r.target}): envs {r.envs or '-'}, agents {r.agents or '-'}, commands {r.commands or '-'}")
    return 0
