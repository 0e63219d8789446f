"""Fuzzing damaged checkpoint directories (issue 26): random byte flips, truncations, zeroed and deleted
files in one or more saved steps give either a clear `CheckpointError` (naming the damaged step), or a
restore of an intact step with exactly the values saved for it, newer damaged steps reported as skipped.

A tiny pytree (a few arrays and a typed PRNG key) is saved once per module as steps 10, 20 and 30; every
example damages a copy of that run directory.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from simlab.agents import checkpoint
from fuzz_settings import bounded, deep

STEPS = (10, 20, 30)


def _state(step: int) -> dict:
    """The tiny training state saved at `step` (distinct values per step, explicit key)."""
    key = jax.random.key(step)
    return {"params": {"w": jax.random.normal(key, (3, 4)), "b": jnp.arange(4, dtype=jnp.float32) * step},
            "count": jnp.asarray(step, jnp.int32), "rng": jax.random.fold_in(key, 1)}


def _same(a, b) -> bool:
    a = jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, a)
    b = jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, b)
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    for step in STEPS:
        checkpoint.save(run, step, _state(step), {"env_steps": step * 100})
    assert checkpoint.steps(run) == list(STEPS)
    return run


@pytest.fixture(scope="module")
def files_by_step(saved_run) -> dict[int, list[str]]:
    """The files of every step, relative to the step directory (sorted: examples are reproducible)."""
    return {s: sorted(p.relative_to(saved_run / "checkpoints" / str(s)).as_posix()
                      for p in (saved_run / "checkpoints" / str(s)).rglob("*") if p.is_file()) for s in STEPS}


@st.composite
def damage(draw, files_by_step):
    """A list of `(step, file, how, position, byte)` damages; `how` in flip/truncate/zero/delete/garbage."""
    count = draw(st.integers(1, 3))
    out = []
    for _ in range(count):
        step = draw(st.sampled_from(STEPS))
        name = draw(st.sampled_from(files_by_step[step]))
        how = draw(st.sampled_from(["flip", "flip", "truncate", "zero", "delete", "garbage"]))
        out.append((step, name, how, draw(st.floats(0, 1, exclude_max=True)), draw(st.integers(1, 255))))
    return out


def _apply(step_dir: Path, name: str, how: str, position: float, byte: int) -> bool:
    """Damages `step_dir/name`; returns False when the file was already gone (nothing changed). Damages
    may cancel out (two equal flips): `_status` compares with the saved files to tell."""
    path = step_dir / name
    if not path.is_file():
        return False
    data = bytearray(path.read_bytes())
    at = int(position * len(data))
    if how == "delete":
        path.unlink()
        return True
    if how == "truncate":
        if not data:
            path.unlink()
        else:
            path.write_bytes(bytes(data[:at]))
        return True
    if how == "zero":
        path.write_bytes(bytes(len(data)))
        return any(data)
    if how == "garbage":
        path.write_bytes(bytes((byte + 37 * i) % 256 for i in range(max(1, len(data)))))
        return True
    if not data:
        path.unlink()
        return True
    data[at] ^= byte  # byte in [1, 255]: the file always changes
    path.write_bytes(bytes(data))
    return True


def _status(original: Path, damaged: Path) -> str:
    """How damaged step directory `damaged` is compared with `original`:

    "intact": every file is unchanged (a deleted or reformatted checksum file alone leaves it intact: the
    step is then verified by reading it); "damaged": a file with a recorded checksum changed, or the checksum
    record itself changed; "unchecked": the checksum record is gone *and* another file changed, a double
    fault that only reading the arrays can catch (verify documents this), so either outcome is allowed.
    """
    import json

    checksums = checkpoint.CHECKSUMS
    record = damaged / checksums
    changed = [p.relative_to(original).as_posix() for p in original.rglob("*") if p.is_file()
               and p.name != checksums and (not (damaged / p.relative_to(original)).is_file()
                                            or (damaged / p.relative_to(original)).read_bytes() != p.read_bytes())]
    if record.is_file():
        try:
            same_record = json.loads(record.read_bytes()) == json.loads((original / checksums).read_bytes())
        except ValueError:
            same_record = False
        return "damaged" if changed or not same_record else "intact"
    return "unchecked" if changed else "intact"


def _property(saved_run, capfd, damages):
    capfd.readouterr()
    work = Path(tempfile.mkdtemp(prefix="ckpt_fuzz_"))
    try:
        run = work / "run"
        shutil.copytree(saved_run, run)
        for s, name, how, pos, byte in damages:
            _apply(run / "checkpoints" / str(s), name, how, pos, byte)
        status = {s: _status(saved_run / "checkpoints" / str(s), run / "checkpoints" / str(s)) for s in STEPS}
        # verify() names every damaged step (each file has a recorded size and SHA-256).
        readable = {}
        for s in STEPS:
            try:
                checkpoint.verify(run, s)
                readable[s] = True
            except checkpoint.CheckpointDamagedError as err:
                assert status[s] != "intact", f"intact step {s} reported as damaged: {err}"
                assert err.step == s and f"step {s}" in str(err) and "damaged" in str(err)
                readable[s] = False
            else:
                assert status[s] != "damaged", f"damaged step {s} passed verify ({damages})"
        # restore falls back to the newest readable step, reporting the newer damaged ones as skipped.
        template = _state(0)
        candidates = [s for s in STEPS if readable[s]]
        if candidates:
            try:
                restored = checkpoint.restore_checkpoint(run, template, fallback=True)
            except checkpoint.CheckpointError as err:
                assert status[candidates[-1]] == "unchecked", f"intact step {candidates[-1]} not restored: {err}"
            else:
                if status[restored.step] == "intact":
                    assert _same(restored.state, _state(restored.step)), "restored values differ from the saved ones"
                    assert restored.meta == {"env_steps": restored.step * 100}
                # The newest readable step, unless reading its arrays failed (possible only for "unchecked").
                assert restored.step == candidates[-1] or status[candidates[-1]] == "unchecked"
                assert {e.step for e in restored.skipped} == {s for s in STEPS if s > restored.step}
        else:
            with pytest.raises(checkpoint.CheckpointDamagedError, match="every checkpoint .* is damaged"):
                checkpoint.restore_checkpoint(run, template, fallback=True)
        newest = max(STEPS)
        if status[newest] == "damaged":  # without fallback the newest step is refused, naming the earlier ones
            with pytest.raises(checkpoint.CheckpointDamagedError) as info:
                checkpoint.restore(run, template)
            assert f"step {newest}" in str(info.value) and "Earlier steps exist" in str(info.value)
        elif status[newest] == "intact":
            state, meta = checkpoint.restore(run, template)
            assert _same(state, _state(newest))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Event loop is closed" not in out + err, (out + err)[-2000:]


def test_checkpoint_damage_fuzz(saved_run, files_by_step, capfd):
    @bounded(30)
    @given(damages=damage(files_by_step))
    def run(damages):
        _property(saved_run, capfd, damages)

    run()


@pytest.mark.slow
def test_checkpoint_damage_fuzz_deep(saved_run, files_by_step, capfd):
    @deep(400)
    @given(damages=damage(files_by_step))
    def run(damages):
        _property(saved_run, capfd, damages)

    run()
