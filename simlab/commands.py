"""The registry of `simlab` subcommands: the one place the dispatcher (`simlab.cli`) learns its commands from.

A command is a name, a one-line help text and a target named as `"module:attribute"`. The target is
imported only when the command runs (or when `--help` lists the sub-parsers), so `simlab envs` never
imports a learner, and a plug-in that fails to import cannot break the other commands.

Two kinds of target:

* `kind="parser"`: `attribute(subparsers)` adds an `argparse` sub-parser named `name` and sets its
  `func` default to a callable `func(args) -> int` (the built-in `train`, `eval`, `render`, `envs`).
* `kind="forward"`: `attribute(argv) -> int` receives every argument after the command name,
  untouched (including `--help`), and parses them itself (`recsim`, `rendezvous`, `sensory`, `bench`).

Registering::

    from simlab import commands
    commands.register(commands.Command("mytool", "what it does", "my_plugin.cli:main"))

The built-in commands are registered by `simlab.cli` on import; plug-ins register theirs from their
entry point. A name that is already taken raises `ValueError` naming both owners.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

KINDS = ("parser", "forward")


@dataclasses.dataclass(frozen=True)
class Command:
    """One `simlab NAME ...` subcommand.

    Attributes:
      name: the word after `simlab`.
      help: one line for `simlab --help`.
      target: `"module:attribute"`, imported lazily (see the module docstring for its signature).
      kind: "parser" or "forward".
      owner: who registered it ("simlab" for the built-ins, else the plug-in's name), for error messages.
    """

    name: str
    help: str
    target: str
    kind: str = "forward"
    owner: str = "simlab"

    def __post_init__(self):
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"command name {self.name!r}: use letters, digits, '-' and '_'")
        if self.kind not in KINDS:
            raise ValueError(f"command {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        module, sep, attribute = self.target.partition(":")
        if not module or not sep or not attribute:
            raise ValueError(f"command {self.name!r}: target must be 'module:attribute', got {self.target!r}")

    def load(self) -> Callable[..., Any]:
        """Imports and returns the target callable."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


_COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    """Adds `command`; raises ValueError when its name is taken by a different command."""
    taken = _COMMANDS.get(command.name)
    if taken is not None and taken != command:
        raise ValueError(f"command {command.name!r} from {command.owner!r} clashes with the one from {taken.owner!r}; "
                         "pick another name")
    _COMMANDS[command.name] = command
    return command


def unregister(name: str) -> None:
    """Removes the command called `name` (no error when absent)."""
    _COMMANDS.pop(name, None)


def get(name: str) -> Command | None:
    """The command called `name`, or None."""
    return _COMMANDS.get(name)


def all_commands() -> list[Command]:
    """Every registered command, in registration order."""
    return list(_COMMANDS.values())
