"""Where benchmarks and application commands write their files, and when they may replace them.

One policy for every `simlab bench NAME`, `simlab rendezvous eval`, `simlab recsim ecosystem` and
`simlab sensory train`:

* `--out DIR` is the directory written to. Without it the default is `./simlab_results/<name>/`
  (under the current working directory, never inside the installed package); nothing else is
  written to the working directory.
* `--publish` writes to the package's tracked results instead (`bench/results/` for benchmarks),
  the files behind the README's tables. Only this flag changes them; it cannot be combined with
  `--out`, and since replacing the published numbers is its purpose it replaces them.
* Nothing is silently overwritten: if any file the command is about to write already exists, it
  refuses *before doing any work* (exit status 2), names the files and offers `--overwrite` or
  another `--out`.

    parser = argparse.ArgumentParser(prog="simlab bench steps")
    add_output_arguments(parser, "steps")
    args = parser.parse_args(argv)
    out = prepare_output(args, "steps", ["steps_cartpole_swingup.json", "steps_cartpole_swingup.png"])
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Iterable

DEFAULT_ROOT = Path("simlab_results")
PUBLISHED_DIR = Path(__file__).resolve().parent / "results"


class OutputExistsError(ValueError):
    """Raised when a command would replace existing files without `--overwrite`."""


def default_out_dir(name: str) -> Path:
    """`./simlab_results/<name>`: the default output directory of command `name` (relative to the cwd)."""
    return DEFAULT_ROOT / name


def add_output_arguments(parser: argparse.ArgumentParser, name: str, *, published: Path | None = PUBLISHED_DIR,
                         what: str = "JSON and PNG") -> None:
    """Adds `--out`, `--overwrite` and (when `published` is given) `--publish` to `parser`."""
    parser.add_argument("--out", type=Path, default=None,
                        help=f"directory for the {what} (default ./{default_out_dir(name)}); files that exist "
                             "there are not replaced without --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="replace files that already exist in --out")
    if published is not None:
        parser.add_argument("--publish", action="store_true",
                            help=f"write to the tracked published results ({_display(published)}) instead of --out, "
                                 "replacing them")


def _display(path: Path) -> str:
    """`path` relative to the repository when it is inside it (for help texts)."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def resolve_out_dir(args: argparse.Namespace, name: str, published: Path | None = PUBLISHED_DIR) -> Path:
    """The directory selected by `args.out` / `args.publish` (see the module docstring); raises ValueError
    for `--publish` together with `--out`."""
    if getattr(args, "publish", False):
        if args.out is not None:
            raise ValueError("--publish writes to the published results; it cannot be combined with --out")
        return Path(published)
    return Path(args.out) if args.out is not None else default_out_dir(name)


def check_writable(out: Path, filenames: Iterable[str], *, overwrite: bool) -> list[Path]:
    """Raises unless every `out/<filename>` may be written: `out` must be a directory (or not exist yet), and
    existing files need `overwrite`. Returns the target paths. Creates nothing."""
    out = Path(out)
    existing_ancestor = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing_ancestor.is_dir():
        raise ValueError(f"--out {out}: {existing_ancestor} is a file, not a directory; pass a directory")
    if not os.access(existing_ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: {existing_ancestor} is not writable; pass a directory you can write to")
    targets = [out / f for f in filenames]
    for target in targets:
        if target.exists() and target.is_dir():
            raise ValueError(f"{target} is a directory; cannot write a file there")
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        names = ", ".join(str(t) for t in existing)
        raise OutputExistsError(f"{names} already exist{'s' if len(existing) == 1 else ''}; not replacing "
                                f"{'it' if len(existing) == 1 else 'them'}. Pass --overwrite to replace, or "
                                f"--out DIR to write elsewhere")
    return targets


def prepare_output(args: argparse.Namespace, name: str, filenames: Iterable[str],
                   published: Path | None = PUBLISHED_DIR) -> Path:
    """Resolves the output directory of command `name`, checks that `filenames` may be written there
    (`--publish` implies `--overwrite`) and returns it. Raises ValueError (`OutputExistsError` for files
    that exist) before anything is written; creates nothing (the writers create the directory)."""
    out = resolve_out_dir(args, name, published)
    overwrite = bool(getattr(args, "overwrite", False) or getattr(args, "publish", False))
    check_writable(out, filenames, overwrite=overwrite)
    return out


def prepare_or_report(args: argparse.Namespace, name: str, filenames: Iterable[str], prog: str,
                      published: Path | None = PUBLISHED_DIR) -> Path | None:
    """`prepare_output`, with a refusal printed as `PROG: error: ...` on stderr and None returned
    (the caller then exits with status 2)."""
    import sys

    try:
        return prepare_output(args, name, filenames, published)
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return None
