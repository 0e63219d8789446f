"""Files: where commands write, when they may replace what exists, and atomic writes.

Atomic writes (`atomic_path`, `write_json`, `write_text`, `save_figure`): the content goes to a temporary file in the
target's directory, which is flushed and renamed onto the target, so a reader (or a crash) never sees a
half-written file. Every JSON, CSV rewrite, PNG and parameter file that simlab writes goes through them.

The output policy, one for every `simlab bench NAME`, `simlab rendezvous eval`, `simlab recsim ecosystem`
and `simlab sensory train`:

* `--out DIR` is the directory written to. Without it the default is `./simlab_results/<name>/`
  (under the current working directory, never inside the installed package); nothing else is
  written to the working directory.
* `--publish` writes to the tracked results of a source checkout instead (`bench/results/` for
  benchmarks, `checkout_results_dir()`; shipped parameters for the training commands), the files behind
  the README's tables; commands without a published location have no `--publish`. Only this flag
  changes them; it cannot be combined with `--out`, and since replacing the published numbers is its
  purpose it replaces them.
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
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

DEFAULT_ROOT = Path("simlab_results")


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = ".tmp") -> Iterator[Path]:
    """Yields a temporary path next to `path` (ending in `suffix`, e.g. ".tmp.npz" for writers that add
    their own extension); when the block ends without an exception it is renamed onto `path`, else
    removed. Creates the directory. Usage: `with atomic_path(p, ".tmp.png") as tmp: fig.savefig(tmp)`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make every written file private
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path | str, text: str) -> Path:
    """Writes `text` to `path` atomically (flushed to disk before the rename); returns `path`."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_json(path: Path | str, payload: Any, indent: int = 2) -> Path:
    """Writes `payload` as JSON to `path` atomically; returns `path`."""
    return write_text(path, json.dumps(payload, indent=indent))


def save_figure(fig, path: Path | str, dpi: float | None = None) -> Path:
    """Lays out a matplotlib figure, writes it atomically to `path` (the format from its suffix; the
    directory is created) and closes it; returns `path`."""
    import matplotlib.pyplot as plt  # heavy, and only commands that plot need it

    path = Path(path)
    fig.tight_layout()
    try:
        with atomic_path(path, ".tmp" + path.suffix) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return path


def checkout_results_dir() -> Path | None:
    """`bench/results/` of the source checkout this package runs from (an editable install), else None."""
    results = Path(__file__).resolve().parents[1] / "bench" / "results"
    return results if results.is_dir() else None


class OutputExistsError(ValueError):
    """Raised when a command would replace existing files without `--overwrite`."""


def default_out_dir(name: str) -> Path:
    """`./simlab_results/<name>`: the default output directory of command `name` (relative to the cwd)."""
    return DEFAULT_ROOT / name


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (e.g. `--episodes`), refused by the parser with a usage message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (>= 1), got {value}")
    return value


def add_output_arguments(parser: argparse.ArgumentParser, name: str, *, published: Path | None = None,
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
    root = Path(__file__).resolve().parents[1]  # the checkout's root (an editable install)
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def resolve_out_dir(args: argparse.Namespace, name: str, published: Path | None = None) -> Path:
    """The directory selected by `args.out` / `args.publish` (see the module docstring); raises ValueError
    for `--publish` together with `--out`."""
    if getattr(args, "publish", False):
        if args.out is not None:
            raise ValueError("--publish writes to the published results; it cannot be combined with --out")
        return Path(published)
    return Path(args.out) if args.out is not None else default_out_dir(name)


def check_writable(out: Path, filenames: Iterable[str], *, overwrite: bool) -> list[Path]:
    """Raises unless every `out/<filename>` may be written: `out` must be a directory (or not exist yet), and
    existing outputs need `overwrite`. A name ending in "/" is a directory output (e.g. saved parameters,
    `agents.checkpoint.save_params`); any other name is a file. Returns the target paths. Creates nothing."""
    out = Path(out)
    existing_ancestor = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing_ancestor.is_dir():
        raise ValueError(f"--out {out}: {existing_ancestor} is a file, not a directory; pass a directory")
    if not os.access(existing_ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: {existing_ancestor} is not writable; pass a directory you can write to")
    filenames = list(filenames)
    targets = [out / f for f in filenames]
    for name, target in zip(filenames, targets):
        if name.endswith("/") and target.exists() and not target.is_dir():
            raise ValueError(f"{target} is a file; cannot write the directory {name} there")
        if not name.endswith("/") and target.is_dir():
            raise ValueError(f"{target} is a directory; cannot write a file there")
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        names = ", ".join(str(t) for t in existing)
        raise OutputExistsError(f"{names} already exist{'s' if len(existing) == 1 else ''}; not replacing "
                                f"{'it' if len(existing) == 1 else 'them'}. Pass --overwrite to replace, or "
                                f"--out DIR to write elsewhere")
    return targets


def prepare_output(args: argparse.Namespace, name: str, filenames: Iterable[str],
                   published: Path | None = None) -> Path:
    """Resolves the output directory of command `name`, checks that `filenames` may be written there
    (`--publish` implies `--overwrite`) and returns it. Raises ValueError (`OutputExistsError` for files
    that exist) before anything is written; creates nothing (the writers create the directory)."""
    out = resolve_out_dir(args, name, published)
    overwrite = bool(getattr(args, "overwrite", False) or getattr(args, "publish", False))
    check_writable(out, filenames, overwrite=overwrite)
    return out


def prepare_or_report(args: argparse.Namespace, name: str, filenames: Iterable[str], prog: str,
                      published: Path | None = None) -> Path | None:
    """`prepare_output`, with a refusal printed as `PROG: error: ...` on stderr and None returned
    (the caller then exits with status 2)."""
    try:
        return prepare_output(args, name, filenames, published)
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return None
