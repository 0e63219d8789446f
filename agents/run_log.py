"""Run logging: `metrics.csv`, TensorBoard event files (tensorboardX) and a learning-curve PNG."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

FIRST_COLUMNS = ["iteration", "env_steps", "wall_time_s", "eval_return", "eval_return_std", "train_return"]


class RunLog:
    """Appends one row per logged iteration to `out/metrics.csv` and TensorBoard.

    Columns are fixed by the first row (`FIRST_COLUMNS` first, then sorted
    metric names); later rows must carry the same keys. On resume the CSV is
    appended to, so one file holds the whole run.
    """

    def __init__(self, out_dir: str | Path, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out_dir / "metrics.csv"
        self.columns: list[str] | None = None
        if self.csv_path.exists() and self.csv_path.stat().st_size > 0:
            with self.csv_path.open() as f:
                self.columns = next(csv.reader(f))
        self.writer = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))

    def log(self, row: dict[str, Any]) -> None:
        row = {k: (float(v) if not isinstance(v, (int, str)) else v) for k, v in row.items()}
        if self.columns is None:
            self.columns = [c for c in FIRST_COLUMNS if c in row] + sorted(k for k in row if k not in FIRST_COLUMNS)
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
        with self.csv_path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])
        if self.writer is not None:
            step = int(row["env_steps"])
            for key, value in row.items():
                if key not in ("iteration", "env_steps") and isinstance(value, float) and math.isfinite(value):
                    self.writer.add_scalar(key, value, step)
            self.writer.flush()

    def rows(self) -> list[dict[str, float]]:
        """All rows of metrics.csv as floats (empty strings become NaN)."""
        if not self.csv_path.exists():
            return []
        with self.csv_path.open() as f:
            return [{k: float(v) if v != "" else float("nan") for k, v in r.items()} for r in csv.DictReader(f)]

    def plot(self, title: str) -> Path:
        """Writes `learning_curve.png`: eval return (±std) and train return against env steps."""
        import matplotlib

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
        fig.tight_layout()
        path = self.out_dir / "learning_curve.png"
        fig.savefig(path)
        plt.close(fig)
        return path

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
