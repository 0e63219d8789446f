#!/usr/bin/env bash
# Env-level throughput on a GPU host, in one run of bench/steps.py (issue: env-level throughput on the default path):
# ours through `envs.make("ant", num_envs=N)` and Brax's spring and mjx envs as Brax users write them, at 4,096 and
# 65,536 Ant environments; EnvPool and gymnasium are CPU tools and are skipped. Budget: under 8 minutes (compiles
# included) on one H100/H200-class GPU.
#
# The GPU host has JAX but may lack network: prepare the wheels as described in bench/gpu_physics.sh (the same
# list; Brax's wheel brings its envs), then, from the repository root:
#   NUM_ENVS=4096,65536 OUT=/some/dir bench/device_check.sh
# Writes OUT/steps_ant.json and .png and prints the table.
set -u
NUM_ENVS=${NUM_ENVS:-4096,65536}
STEPS=${STEPS:-50}
WHEELS=${WHEELS:-devbuild/wheels}
OUT=${OUT:-./simlab_results/steps_gpu}
export JAX_DEFAULT_MATMUL_PRECISION=highest
python -c "import jax; print('jax', jax.__version__, jax.devices())"
if [ -d "$WHEELS" ]; then
  mkdir -p /tmp/site /tmp/stub/glfw && touch /tmp/stub/glfw/__init__.py
  for w in "$WHEELS"/*.whl; do python -m zipfile -e "$w" /tmp/site; done
  export PYTHONPATH=/tmp/site:$PWD
  python -c "import mujoco" 2>/dev/null || export PYTHONPATH=/tmp/stub:$PYTHONPATH  # mujoco's viewer imports glfw
fi
timeout 470 python -m bench.steps --env ant --num-envs "$NUM_ENVS" --steps-per-call "$STEPS" --repeats 3 \
  --no-envpool --no-gym --out "$OUT" --overwrite
