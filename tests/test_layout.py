"""The house (issue 25): one installed namespace, imports that only point down, and no cycles.

Read from the source with `ast`, so every import counts, including ones inside functions:

* each module of `simlab.*` imports only from its own layer or below
  (engine < envs, recsim < agents < the top: `simlab.cli`, `simlab.commands`);
* there is no import cycle between modules, nor between sibling sub-packages (`agents.es` and
  `agents.sensory` may not lean on each other);
* the installed packages never import `bench` or `plugins`, and nothing (tests and bench included)
  imports the folders by their bare names (`import envs` would load a second copy of every module);
* the wheel holds exactly one top-level package, `simlab`, and every module of the mapped folders.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"simlab": "simlab", "simlab.engine": "engine", "simlab.envs": "envs", "simlab.agents": "agents",
           "simlab.recsim": "recsim", "simlab.plugins": "plugins"}
LAYERS = {"simlab.engine": 0, "simlab.envs": 1, "simlab.recsim": 1, "simlab.agents": 2, "simlab.plugins": 4}
TOP = 3  # simlab.cli, simlab.commands, simlab.ring; plug-ins sit above it and are loaded only through entry points
BARE = {"engine", "envs", "agents", "recsim", "plugins"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """Every absolute module name that `path` (module `name`) imports, anywhere in the file."""
    found = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            submodules = {f"{module}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(module)
    return found


def _resolve(module: str) -> str | None:
    """The `simlab` module that importing `module` loads (its longest known prefix), or None."""
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return module or None


GRAPH = {name: {m for m in map(_resolve, _imported(name, path)) if m and m != name} for name, path in MODULES.items()}


def _layer(module: str) -> int:
    return LAYERS.get(".".join(module.split(".")[:2]), TOP)


def test_imports_only_point_down():
    upward = [f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps if _layer(d) > _layer(m)]
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_cycles():
    assert not _cycles(GRAPH)


def test_no_cycles_between_sibling_packages():
    def package_of(module: str) -> str:
        return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]

    packages: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        for dep in deps:
            a, b = package_of(module), package_of(dep)
            if a != b and a.rpartition(".")[0] == b.rpartition(".")[0]:
                packages.setdefault(a, set()).add(b)
                packages.setdefault(b, set())
    assert not _cycles(packages)


def test_core_never_imports_bench_or_plugins():
    bad = [f"{name} imports {m}" for name, path in MODULES.items() for m in _imported(name, path)
           if (m.split(".")[0] in ("bench", "plugins") or m.startswith("simlab.plugins"))
           and not name.startswith("simlab.plugins")]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_folders_by_bare_name():
    files = [*MODULES.values(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and not node.level and node.module else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in BARE]
    assert not bad, "use `from simlab import ...`:\n" + "\n".join(bad)


def test_pyproject_lists_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert listed == on_disk, f"missing: {sorted(on_disk - listed)}, stale: {sorted(listed - on_disk)}"
    assert {k: v for k, v in config["package-dir"].items()} == FOLDERS


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a copy of what the build reads (so no build/ appears in the checkout)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(ROOT / name, source / name)
    for folder in FOLDERS.values():
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, cwd=out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("simlab-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_installs_one_top_level_package(wheel):
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"simlab"} and len(dist_info) == 1
    expected = {"/".join(["simlab", *name.split(".")[1:]]) + ("/__init__.py" if path.name == "__init__.py" else ".py")
                for name, path in MODULES.items()}
    assert expected <= set(names), sorted(expected - set(names))[:10]
    assert not [n for n in names if "/bench/" in n or "/tests/" in n]
    assert "simlab/agents/sensory/params/pong_sensory/checkpoints/0/simlab_checksums.json" in names
    assert "simlab/agents/hpp/assets/predictor/checkpoints/0/simlab_checksums.json" in names  # shipped parameters
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "simlab = simlab.cli:main" in entry_points
    assert "[simlab.plugins]" in entry_points and "ibc = simlab.plugins.ibc:register" in entry_points


# Imports inside functions are kept only for heavy or platform-bound libraries that most commands never need
# (each such line says why): plotting, frame writing, TensorBoard, MuJoCo's GL backends, and evosax (its import
# starts JAX's backends, which must wait until `--devices` has declared the CPU devices).
LAZY_ALLOWED = {"matplotlib", "imageio", "imageio_ffmpeg", "tensorboardX", "mujoco", "evosax"}


def test_importing_the_commands_does_not_start_jax():
    """`simlab train --devices N` declares N CPU devices after importing its modules: nothing may start JAX's
    backends at import time (evosax does, so it is imported lazily)."""
    code = ("import simlab.cli, simlab.agents.cli_train, simlab.agents.registry\n"
            "from jax._src import xla_bridge\nraise SystemExit(1 if xla_bridge._backends else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_no_imports_inside_functions():
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        module = inner.module if isinstance(inner, ast.ImportFrom) else inner.names[0].name
                        if (module or "").split(".")[0] not in LAZY_ALLOWED:
                            found.append(f"{path.relative_to(ROOT)}:{inner.lineno} {ast.unparse(inner)}")
    assert not found, "move these imports to the top of their module:\n" + "\n".join(found)
