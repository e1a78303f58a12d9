#!/usr/bin/env bash
# Everything that needs a GPU, in one call (under 8 minutes on one GPU), with one table at the end:
#   1. the gpu-marked tests (pytest -m gpu);
#   2. the GPU part of benchmarks/bench_igc.py: the paper's decoding (Table A5 MLP, 1,000 samples x
#      12 baselines, ours against the hand-written floor on the same device) and encoding (Table A5
#      ConvNeXt, 64x64, 4,321 outputs, 6 baselines, a tenth of the paper's 1,000 samples by default;
#      the time for 1,000 is scaled from it).
# Usage, from anywhere:  bash benchmarks/gpu_check.sh [--gpu-encoding-samples 1000] [other bench_igc options]
# PYTHON picks the interpreter (default: python); OUT, when set, receives the logs and the JSON rows.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-$(mktemp -d)}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device visible to $PY; nothing to check." >&2
    exit 2
fi

t0=$(date +%s)
timeout 240 "$PY" -m pytest -m gpu -q -p no:cacheprovider -rs tests > "$OUT/gpu_tests.log" 2>&1
tests_rc=$?
tests_line=$(grep -E "passed|failed|error|no tests ran" "$OUT/gpu_tests.log" | tail -1)
t1=$(date +%s)
timeout 330 "$PY" benchmarks/bench_igc.py --part gpu --device cuda --json "$OUT/gpu_bench.json" "$@" \
    > "$OUT/gpu_bench.log" 2>&1
bench_rc=$?
t2=$(date +%s)

"$PY" - "$OUT/gpu_bench.json" "$tests_rc" "$tests_line" "$bench_rc" "$((t1 - t0))" "$((t2 - t1))" <<'PYEOF'
import json, os, sys
path, tests_rc, tests_line, bench_rc, t_tests, t_bench = sys.argv[1:]
import torch
name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print(f"\ngpu_check on {name} (torch {torch.__version__})")
print("| check | result | seconds |")
print("| --- | --- | --- |")
print(f"| pytest -m gpu | {'ok' if tests_rc == '0' else 'FAILED (rc ' + tests_rc + ')'}: {tests_line.strip()} | {t_tests} |")
rows = json.load(open(path)) if os.path.exists(path) else []
if bench_rc != "0":
    print(f"| bench_igc --part gpu | FAILED (rc {bench_rc}), see gpu_bench.log | {t_bench} |")
for r in rows:
    if "floor_s" in r:
        res = (f"{r['n']} x {r['K']}: ours {r['ours_s']:.2f} s, floor {r['floor_s']:.2f} s, ours/floor "
               f"{r['ratio']:.2f}, maps differ {r['map_rel_diff']:.1e}, IG err {r['ig_error']:.1e}, "
               f"IGC err {r['igc_error']:.1e}")
        secs = r["ours_s"] + r["floor_s"]
    else:
        res = (f"{r['n']} x {r['K']} x {r['steps']} nodes: {r['ours_s']:.1f} s ({r['per_sample_s']:.3f} s/sample, "
               f"1,000 samples ~{r['paper_1000_s']:.0f} s), readout {r['readout']}, IG err {r['ig_error']:.1e}, "
               f"IGC err {r['igc_error']:.1e}")
        secs = r["ours_s"]
    print(f"| {r['part']} | {res} | {secs:.1f} |")
print(f"logs: {os.path.dirname(path)}")
PYEOF
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
