#!/usr/bin/env bash
# Every GPU figure of the README from one call on a machine with an NVIDIA GPU, in the
# repository root, with the engine's packages importable by $PYTHON (default python3):
#
#   OUT=/tmp/gpu bash benchmarks/gpu_run.sh
#
# 1. the machine and versions, and the engine's own self-check (is CUDA seen?);
# 2. gpu_bench.py: 512 px in 500 steps, 2048 and 4096 px, peak GPU memory;
# 3. server_latency.py on CUDA: the plug-in's logic (fake GIMP) against a warm engine
#    server on 127.0.0.1 and against the local engine process, one Preview at 512 px;
# 4. quality_bench.py on CUDA: the README's cat in the three paintings, three presets,
#    512 px, each run a whole engine process (start-up included), scored on the CPU.
# Each part has its own time limit, so one that hangs does not cost the others. Into $OUT:
# gpu_run.log, gpu_bench.json, quality.json, contact_sheet.jpg, quality_pngs.tar.
set -u
OUT=${OUT:-/tmp/gpu}
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
mkdir -p "$OUT"
part() { echo; echo "== $1 ($(date -u +%T))"; }
{
    part "machine"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    nproc
    "$PYTHON" -c 'import sys, torch, torchvision; print("python", sys.version.split()[0], "torch",
torch.__version__, "cuda", torch.version.cuda, "torchvision", torchvision.__version__,
"bf16", torch.cuda.is_bf16_supported())'
    part "self-check"
    timeout 120 "$PYTHON" -m core.selfcheck
    part "gpu_bench.py"
    timeout 300 "$PYTHON" benchmarks/gpu_bench.py --json-out "$OUT/gpu_bench.json"
    part "server_latency.py --device cuda"
    timeout 180 "$PYTHON" benchmarks/server_latency.py --device cuda --size 512
    part "quality_bench.py --device cuda"
    timeout 400 "$PYTHON" benchmarks/quality_bench.py --device cuda --size 512 --eval-size 512 \
        --upscale --photos examples/photo.png --presets preview balanced quality --out "$WORK/quality"
    part "done"
} 2>&1 | tee "$OUT/gpu_run.log"
cp "$WORK/quality/results.json" "$OUT/quality.json" 2>/dev/null
cp "$WORK/quality/contact_sheet.jpg" "$OUT/" 2>/dev/null
(cd "$WORK/quality" 2>/dev/null && tar cf "$OUT/quality_pngs.tar" ./*.png)
rm -rf "$WORK"
