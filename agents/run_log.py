"""Run directories: `metrics.csv`, TensorBoard event files (tensorboardX), a learning-curve PNG, and the lock.

`RunLog` appends one row per logged iteration; on resume `truncate` cuts the history back to the
restored step (no duplicate or torn rows) and TensorBoard is told to purge later steps.
`RunLock` makes a run directory exclusive to one process (a PID-stamped `.simlab.lock`, held with
`flock` so a crashed holder's lock is recognised as stale); `holds_run` and `clear_run` let
`simlab train` refuse to reuse a directory that holds a run unless `--overwrite` is given.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: PID-only locking
    fcntl = None

from simlab.engine import io as files

FIRST_COLUMNS = ["iteration", "env_steps", "wall_time_s", "eval_return", "eval_return_std", "train_return"]
LOCK_NAME = ".simlab.lock"
# What `simlab train` writes into a run directory; `--overwrite` removes these and nothing else.
RUN_FILES = ("config.json", "metrics.csv", "learning_curve.png", "checkpoints", "tensorboard", "damaged_checkpoints")
_TRASH_PREFIX = ".simlab-overwritten-"


class RunDirectoryError(ValueError):
    """A run directory cannot be used: not a directory, not writable, or it already holds a run."""


class RunExistsError(RunDirectoryError):
    """`simlab train` was pointed at a directory that already holds a run (without --resume/--overwrite)."""


class RunLockedError(RunDirectoryError):
    """Another live process is training into the same run directory."""


def warn(message: str) -> None:
    """Prints `simlab: warning: MESSAGE` to stderr (the loud channel for recoveries)."""
    print(f"simlab: warning: {message}", file=sys.stderr, flush=True)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process `pid` (Linux /proc), to tell a reused PID from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, start: str | None) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is not None:
        current = _process_start(pid)
        if current is not None and current != start:
            return False  # the PID was reused by another process
    return True


class RunLock:
    """An exclusive lock on a run directory: `DIR/.simlab.lock`, stamped with the holder's PID.

    The file is held with `flock`, which the kernel releases when the holder dies, so a lock left
    by a crashed or SIGKILLed run is stale and is taken over with a warning. The PID, host and
    process start time in the file name the holder in the error another process gets.

        lock = RunLock(run_dir).acquire()   # raises RunLockedError if another live process holds it
        ...
        lock.release()
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        try:
            data = os.pread(fd, 4096, 0)
            holder = json.loads(data.decode()) if data.strip() else {}
            return holder if isinstance(holder, dict) else {}
        except (OSError, ValueError, UnicodeDecodeError):
            return {}

    def _locked_error(self, holder: dict[str, Any]) -> RunLockedError:
        who = f"process {holder.get('pid', '?')}"
        if holder.get("host") and holder.get("host") != socket.gethostname():
            who += f" on host {holder['host']}"
        return RunLockedError(
            f"{self.path.parent} is in use: {who} is training into it (lock file {self.path}). Wait for it to "
            "finish, stop it, or train into another --out directory; if you are sure no process uses it, "
            "delete the lock file")

    def acquire(self) -> "RunLock":
        """Takes the lock (creating the directory's lock file); returns self.

        Raises RunLockedError when a live process holds it; warns and takes over a stale lock
        whose process is gone.
        """
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise self._locked_error(self._read(fd)) from None
                    try:
                        same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                    except FileNotFoundError:
                        same = False
                    if not same:  # the previous holder removed the file while we waited: retry on the new one
                        os.close(fd)
                        continue
                holder = self._read(fd)
                pid = holder.get("pid")
                if isinstance(pid, int) and pid != os.getpid():
                    local = holder.get("host") in (None, socket.gethostname())
                    if not local or _alive(pid, holder.get("start")):
                        # a live holder that does not use flock (another host, or a filesystem without flock)
                        raise self._locked_error(holder)
                    warn(f"taking over the stale lock {self.path} of process {pid}, which is no longer running "
                         "(it probably crashed or was killed)")
                payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                      "start": _process_start(os.getpid()), "time": time.time()}).encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, payload, 0)
                self._fd = fd
                return self
            except BaseException:
                if self._fd != fd:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                raise
        raise RunLockedError(f"could not lock {self.path}: it keeps being replaced by other processes")

    def release(self) -> None:
        """Removes the lock file and releases the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(OSError):
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    os.unlink(self.path)
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def run_contents(run_dir: str | Path) -> list[str]:
    """What makes `run_dir` hold a run worth protecting: checkpoints, logged rows, a plot (empty if none)."""
    run_dir = Path(run_dir)
    found = []
    ckpt = run_dir / "checkpoints"
    if ckpt.is_dir():
        names = sorted((p.name for p in ckpt.iterdir() if p.name.split(".")[0].isdigit()),
                       key=lambda n: int(n.split(".")[0]))
        complete = [n for n in names if n.isdigit()]
        if complete:
            found.append(f"checkpoints/ (steps {', '.join(complete)})")
        elif names:
            found.append("checkpoints/ (a partial step)")
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        with contextlib.suppress(OSError):
            rows = max(0, sum(1 for line in metrics.read_text(errors="replace").splitlines() if line.strip()) - 1)
            if rows:
                found.append(f"metrics.csv ({rows} rows)")
    for name in ("learning_curve.png", "damaged_checkpoints"):
        if (run_dir / name).exists():
            found.append(name)
    return found


def holds_run(run_dir: str | Path) -> bool:
    """Whether `run_dir` holds a training run (see `run_contents`)."""
    return bool(run_contents(run_dir))


def clear_run(run_dir: str | Path) -> list[str]:
    """Deletes what `simlab train` wrote into `run_dir` (RUN_FILES), leaving other files and the lock.

    Each entry is first renamed into one hidden directory (each rename is atomic), which is then
    deleted; a crash part-way leaves either old run files (so the directory still counts as
    holding a run and is not mixed with a new one) or only the hidden directory, which the next
    `clear_run` removes. Returns the names removed.
    """
    run_dir = Path(run_dir)
    trash = run_dir / f"{_TRASH_PREFIX}{os.getpid()}-{time.time_ns()}"
    removed = []
    for name in RUN_FILES:
        path = run_dir / name
        if path.exists() or path.is_symlink():
            trash.mkdir(exist_ok=True)
            os.replace(path, trash / name)
            removed.append(name)
    for path in run_dir.iterdir():
        if path.name.startswith(_TRASH_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
    return removed


class RunLog:
    """Appends one row per logged iteration to `out/metrics.csv` and TensorBoard.

    Columns are fixed by the first row (`FIRST_COLUMNS` first, then sorted
    metric names); later rows must carry the same keys. On resume the CSV is
    appended to, so one file holds the whole run: call `truncate(step)` first so
    rows logged after the restored checkpoint (and a row torn by a crash) go, and
    pass `purge_step` so TensorBoard drops its events from that step on.
    """

    def __init__(self, out_dir: str | Path, tensorboard: bool = True, purge_step: int | None = None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out_dir / "metrics.csv"
        self.columns: list[str] | None = None
        self._read_columns()
        self.writer = None
        if tensorboard:
            from tensorboardX import SummaryWriter  # lazy: only runs that keep a directory write events

            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=purge_step)

    def _read_columns(self) -> None:
        self.columns = None
        if self.csv_path.exists() and self.csv_path.stat().st_size > 0:
            with self.csv_path.open(newline="") as f:
                header = f.readline()
            if header.endswith("\n"):
                self.columns = next(csv.reader([header]))

    def truncate(self, iteration: int) -> int:
        """Keeps only the rows of iterations `<= iteration` (strictly increasing, complete); returns how many went.

        The file is rewritten to a temporary name and renamed, so a crash leaves the old or the new
        file, never a mix. Drops rows after `iteration`, duplicates, and a torn last row.
        """
        if not self.csv_path.exists():
            return 0
        with self.csv_path.open(newline="", errors="replace") as f:
            lines = f.read().splitlines(keepends=True)
        if not lines or not lines[0].endswith("\n"):
            self.csv_path.unlink()  # a torn header: no rows were ever complete
            self.columns = None
            return 0
        columns = next(csv.reader([lines[0]]))
        keep, dropped, last = [lines[0]], 0, -1
        for line in lines[1:]:
            fields = next(csv.reader([line]), []) if line.endswith("\n") else []
            try:
                number = int(float(fields[0])) if len(fields) == len(columns) else None
            except ValueError:
                number = None
            if number is not None and last < number <= iteration:
                keep.append(line)
                last = number
            else:
                dropped += 1
        if dropped:
            files.write_text(self.csv_path, "".join(keep))
        self.columns = columns
        return dropped

    def log(self, row: dict[str, Any]) -> None:
        """Appends `row` (one complete line, written at once) to metrics.csv and TensorBoard."""
        row = {k: (float(v) if not isinstance(v, (int, str)) else v) for k, v in row.items()}
        if self.columns is None:
            self.columns = [c for c in FIRST_COLUMNS if c in row] + sorted(k for k in row if k not in FIRST_COLUMNS)
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
        line = io.StringIO()
        csv.writer(line).writerow([row.get(c, "") for c in self.columns])
        with self.csv_path.open("a", newline="") as f:
            f.write(line.getvalue())
        if self.writer is not None:
            step = int(row["env_steps"])
            for key, value in row.items():
                if key not in ("iteration", "env_steps") and isinstance(value, float) and math.isfinite(value):
                    self.writer.add_scalar(key, value, step)
            self.writer.flush()

    def rows(self) -> list[dict[str, float]]:
        """All complete rows of metrics.csv as floats (empty strings become NaN; a torn row is skipped)."""
        if not self.csv_path.exists():
            return []
        rows = []
        with self.csv_path.open(newline="") as f:
            for r in csv.DictReader(f):
                try:
                    rows.append({k: float(v) if v != "" else float("nan") for k, v in r.items()})
                except (TypeError, ValueError):
                    continue
        return rows

    def plot(self, title: str) -> Path:
        """Writes `learning_curve.png`: eval return (±std) and train return against env steps."""
        import matplotlib  # lazy (heavy): only writing the curve needs it

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
        steps = [r["env_steps"] for r in rows]
        for key, label in (("train_return", "train (stochastic policy)"), ("eval_return", "eval (deterministic)")):
            pts = [(s, r[key]) for s, r in zip(steps, rows) if key in r and math.isfinite(r[key])]
            if pts:
                xs, ys = zip(*pts)
                (line,) = ax.plot(xs, ys, marker="o" if key == "eval_return" else None, label=label)
                if key == "eval_return":
                    std = [r.get("eval_return_std", 0.0) for r in rows if math.isfinite(r.get(key, float("nan")))]
                    ax.fill_between(xs, [y - s for y, s in zip(ys, std)], [y + s for y, s in zip(ys, std)],
                                    color=line.get_color(), alpha=0.15, label="eval ± 1 std")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episode return")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        return files.save_figure(fig, self.out_dir / "learning_curve.png")  # never a half-written PNG

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
