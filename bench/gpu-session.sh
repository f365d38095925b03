#!/usr/bin/env bash
# One GPU session's checks, for a machine lent for minutes (see docs/performance.md): a real
# prune job on webgpu through the CLI (the path GPU workers run), then the benchmark, all output
# under $OUT. Prepare first, on the CPU machine:
#   npm run build && npm run example
#   bash ../shared/gpu/prepare.sh $(cat bench/gpu-paths.txt) bin examples/mnist-mlp examples/mnist-train.npz examples/mnist-test.npz
# then run `bash .gpu/run.sh bash bench/gpu-session.sh` there, with $OUT set.
set -uo pipefail
out="${OUT:?set OUT to a folder for the results}"
budget="${BENCH_BUDGET:-300}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
echo "== prune job on webgpu" | tee "$out/session.log"
timeout 240 node bin/lopper.js prune examples/mnist-mlp/model.json --data examples/mnist-train.npz \
  --eval-data examples/mnist-test.npz --ratio 0.5 --epochs 2 --backend webgpu --out "$out/pruned" --json \
  > "$out/prune.json" 2>> "$out/session.log"
echo "prune exit $?" | tee -a "$out/session.log"
echo "== bench (budget ${budget}s)" | tee -a "$out/session.log"
LOPPER_BACKEND=webgpu timeout $((budget + 120)) node dist/bench/run.js --budget "$budget" --out "$out" 2>&1 | tee -a "$out/session.log"
echo "bench exit ${PIPESTATUS[0]}" | tee -a "$out/session.log"
