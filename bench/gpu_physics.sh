#!/usr/bin/env bash
# bench/physics.py on a GPU host that has JAX but no network and no Brax (how the README's H200 figures were made).
#
# Prepare the wheels on a machine with network access (Python version of the GPU host, here 3.12):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#     --platform manylinux2014_x86_64 --platform any -d devbuild/wheels \
#     mujoco==4.0.1 mujoco-core==4.0.1 mujoco-mjx==3.17.0 gymnasium==1.4.0 brax==0.14.2 absl-py etils trimesh \
#     scipy tqdm cloudpickle farama-notifications typing_extensions
# then, on the GPU host, from the repository root:  NUM_ENVS=8192 STEPS=20 OUT=/some/dir bench/gpu_physics.sh
# The wheels are unpacked (not installed) into /tmp/site; brax's wheel is there only for its MJCF assets.
# Columns: ours (penalty), ours-mujoco (brax ant, 4 iterations), ours-mujoco-v5 (gymnasium ant, RK4, 6 iterations)
# and MJX itself with Brax's mjx settings (`--mjx`). JAX_DEFAULT_MATMUL_PRECISION=highest applies to every column.
set -u
NUM_ENVS=${NUM_ENVS:-8192}
STEPS=${STEPS:-20}
WHEELS=${WHEELS:-devbuild/wheels}
OUT=${OUT:-./simlab_results/physics_gpu}
export JAX_DEFAULT_MATMUL_PRECISION=highest
python -c "import jax, numpy; print('jax', jax.__version__, 'numpy', numpy.__version__, jax.devices())"
mkdir -p /tmp/site /tmp/stub/glfw && touch /tmp/stub/glfw/__init__.py
for w in "$WHEELS"/*.whl; do python -m zipfile -e "$w" /tmp/site; done
export PYTHONPATH=/tmp/site:$PWD
python -c "import mujoco" 2>/dev/null || export PYTHONPATH=/tmp/stub:$PYTHONPATH  # mujoco's viewer imports glfw
python -c "import mujoco; from mujoco import mjx; import gymnasium, tqdm; print('imports ok', mujoco.__version__)"
python -m bench.physics --env ant --num-envs "$NUM_ENVS" --steps "$STEPS" --pipelines "" --brax-batched "" \
  --no-envpool --mjx --out "$OUT" --mujoco-budget 1 --repeats 2
