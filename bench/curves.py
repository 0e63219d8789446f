"""Time-to-return learning curves: parsing, threshold crossing times and the comparison table.

A curve is a list of `CurvePoint(wall_s, env_steps, eval_return)` in the order they were logged,
`wall_s` counting from the start of the run (compilation included). Pure functions, no JAX.
"""
from __future__ import annotations

import json
import math
from typing import Iterable, NamedTuple, Sequence


class CurvePoint(NamedTuple):
    wall_s: float
    env_steps: int
    eval_return: float


def parse_jsonl_curve(text: str, source: str = "curve") -> tuple[dict, list[CurvePoint]]:
    """`(header, points)` from the JSON lines `bench/brax_ppo_worker.py` writes.

    Lines are `{"header": {...}}` or `{"wall_s", "env_steps", "eval_return", ...}`. A last line cut
    short (the worker was killed while writing it) is dropped; any other malformed line raises
    ValueError naming `source` and the line number.
    """
    header: dict = {}
    points: list[CurvePoint] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines):  # no newline after it: an interrupted write
                break
            raise ValueError(f"{source}:{number} is not JSON ({err}); was it written by bench/brax_ppo_worker.py?") from None
        if not isinstance(record, dict):
            raise ValueError(f"{source}:{number}: expected a JSON object, got {type(record).__name__}")
        if "header" in record:
            header = record["header"]
            continue
        points.append(point_from_record(record, f"{source}:{number}"))
    return header, points


def point_from_record(record, where: str) -> CurvePoint:
    """A `CurvePoint` from `{"wall_s", "env_steps", "eval_return"}` (or a 3-item list); ValueError otherwise."""
    if isinstance(record, (list, tuple)) and len(record) == 3:
        record = dict(zip(CurvePoint._fields, record))
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected an object with {list(CurvePoint._fields)}, got {record!r}")
    missing = [k for k in CurvePoint._fields if k not in record]
    if missing:
        raise ValueError(f"{where}: missing {missing} (need {list(CurvePoint._fields)})")
    try:
        point = CurvePoint(float(record["wall_s"]), int(record["env_steps"]), float(record["eval_return"]))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: wall_s, env_steps and eval_return must be numbers, got {record!r}") from None
    if not (math.isfinite(point.wall_s) and point.wall_s >= 0):
        raise ValueError(f"{where}: wall_s must be a non-negative number, got {point.wall_s}")
    return point


def crossing(curve: Sequence[CurvePoint], threshold: float) -> dict | None:
    """When `curve` first reaches `threshold`: `{"wall_s", "env_steps"}`, linearly interpolated.

    Interpolates between the last evaluation below the threshold and the first at or above it
    (evaluations are discrete; both sides of a comparison get the same treatment). A first
    evaluation already at the threshold gives its own time. None if never reached.
    """
    for i, point in enumerate(curve):
        if point.eval_return >= threshold:
            if i == 0:
                return {"wall_s": point.wall_s, "env_steps": point.env_steps}
            before = curve[i - 1]
            frac = (threshold - before.eval_return) / (point.eval_return - before.eval_return)
            return {"wall_s": before.wall_s + frac * (point.wall_s - before.wall_s),
                    "env_steps": int(round(before.env_steps + frac * (point.env_steps - before.env_steps)))}
    return None


def comparison(ours: Sequence[CurvePoint], anchor: Sequence[CurvePoint] | None,
               thresholds: Iterable[float]) -> list[dict]:
    """Per threshold: both crossing times and `speedup` = anchor time / our time (None where either is missing).

    Where we reach a threshold and the anchor never does, `speedup_at_least` is the anchor's last
    evaluation time over ours: a lower bound, since the anchor would need longer than it ran.
    """
    rows = []
    for threshold in thresholds:
        mine = crossing(ours, threshold)
        theirs = crossing(anchor, threshold) if anchor else None
        speedup = theirs["wall_s"] / mine["wall_s"] if mine and theirs and mine["wall_s"] > 0 else None
        at_least = None
        if mine and anchor and theirs is None and mine["wall_s"] > 0:
            at_least = anchor[-1].wall_s / mine["wall_s"]
        rows.append({"threshold": threshold, "ours": mine, "anchor": theirs, "speedup": speedup,
                     "speedup_at_least": at_least})
    return rows


def _when(crossed: dict | None, curve: Sequence[CurvePoint] | None) -> str:
    if crossed is not None:
        return f"{crossed['wall_s'] / 60:6.2f} min ({crossed['env_steps'] / 1e6:5.1f}M steps)"
    if not curve:
        return "not run"
    best = max(p.eval_return for p in curve)
    return f"not within {curve[-1].wall_s / 60:.1f} min (best {best:.0f})"


def format_table(rows: list[dict], ours: Sequence[CurvePoint], anchor: Sequence[CurvePoint] | None,
                 labels: tuple[str, str] = ("ours", "brax")) -> str:
    """A plain-text table: threshold, time (and steps) each side needed, anchor/ours ratio."""
    lines = [f"{'return':>7} | {labels[0] + ': time to return':<36} | {labels[1] + ': time to return':<36} | "
             f"{labels[1] + ' / ' + labels[0]:>12}"]
    lines.append("-" * len(lines[0]))
    for row in rows:
        ratio = "-"
        if row["speedup"] is not None:
            ratio = f"{row['speedup']:.2f}x"
        elif row.get("speedup_at_least") is not None:
            ratio = f"> {row['speedup_at_least']:.2f}x"
        lines.append(f"{row['threshold']:>7.0f} | {_when(row['ours'], ours):<36} | {_when(row['anchor'], anchor):<36} "
                     f"| {ratio:>12}")
    return "\n".join(lines)
