#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, as one command for a machine lent for a short while.
#
# Runs the `cuda`-marked tests and the GPU rows of the benchmarks (MLP, CNN, LSTM/GRU,
# jit_compile, streaming), writing logs and JSON records to OUT.  The machine needs Python
# with torch (CUDA), numpy, h5py, pyyaml, pluggy, pillow and pytest, but not lamella: it
# installs the first-party wheels that `nox -s wheels` built (.nox/.cache/wheels; carry that
# folder there) into a private folder, so their entry points exist without hatchling.
#
#   bash scripts/gpu_check.sh [WHEELS] [OUT] [ROUNDS]
#
# DEVICE=cpu runs the same steps on the CPU (with the cuda tests skipped), to try the
# script anywhere.
set -uo pipefail
cd "$(dirname "$0")/.."
wheels=${1:-.nox/.cache/wheels}
out=${2:-${OUT:-/tmp/lamella-gpu-check}}
rounds=${3:-5}
device=${DEVICE:-cuda}
site=$(mktemp -d)
mkdir -p "$out"

shopt -s nullglob
first_party=()
for wheel in "$wheels"/lamella_*.whl; do
    case "$(basename "$wheel")" in lamella_fixture_*) ;; *) first_party+=("$wheel") ;; esac
done
if [ ${#first_party[@]} -eq 0 ]; then
    echo "no lamella wheels in $wheels: run 'nox -s wheels' and carry .nox/.cache/wheels" >&2
    exit 2
fi
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "${first_party[@]}" || exit 2
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

python3 - <<'EOF' 2>&1 | tee "$out/machine.txt"
import torch, lamella.models
print("torch", torch.__version__, "cuda", torch.version.cuda, "sees a GPU:", torch.cuda.is_available())
if torch.cuda.is_available():
    print(torch.cuda.get_device_name(), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
print("lamella from", lamella.models.__file__)
EOF

status=0
python3 -m pytest -q -p no:cacheprovider -m cuda tests 2>&1 | tee "$out/cuda-tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for bench in mlp cnn recurrent jit streaming; do
    python3 "bench/bench_$bench.py" --device "$device" --rounds "$rounds" --no-keras \
        --json "$out/bench_$bench.json" 2>&1 | tee -a "$out/bench.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
exit $status
