"""The output policy of `simlab.engine.io`, bound to the benchmarks' published results (bench/results/).

Every benchmark takes `--out DIR` (default ./simlab_results/<name>), `--overwrite`, and `--publish`,
which writes the tracked files behind the README's tables here instead; see `simlab.engine.io`.
"""
from __future__ import annotations

import functools
from pathlib import Path

from simlab.engine import io
from simlab.engine.io import OutputExistsError, check_writable, default_out_dir  # noqa: F401  (the bench's names)

PUBLISHED_DIR = Path(__file__).resolve().parent / "results"

add_output_arguments = functools.partial(io.add_output_arguments, published=PUBLISHED_DIR)
resolve_out_dir = functools.partial(io.resolve_out_dir, published=PUBLISHED_DIR)
prepare_output = functools.partial(io.prepare_output, published=PUBLISHED_DIR)
prepare_or_report = functools.partial(io.prepare_or_report, published=PUBLISHED_DIR)
