#!/usr/bin/env bash
# Vision on a CUDA GPU: the same models and code path with VisionSettings.device=cuda.
# Self-contained: run from the repository root on a machine with an NVIDIA GPU and PyPI access;
# it builds its own venv, fetches the models, and times CPU and CUDA in the same run.
set -euo pipefail
VENV=${VENV:-/tmp/vision-gpu-venv}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
python3 -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install -q numpy==2.0.2 'protobuf==5.29.*' opencv-python-headless==4.14.0.94 \
  ai-edge-litert==2.3.0 rapidocr==3.10.0 pillow scikit-image fastapi pydantic \
  pydantic-settings prometheus-client redis httpx
# rapidocr pulls the CPU onnxruntime; swap it for the GPU build (same module name).
"$PIP" uninstall -y -q onnxruntime || true
"$PIP" install -q 'onnxruntime-gpu[cuda,cudnn]' || "$PIP" install -q onnxruntime-gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
PY="$VENV/bin/python"
export PYTHONPATH=.
"$PY" -m vision.install
"$PY" - <<'PYEOF'
import cv2
import onnxruntime
print("onnxruntime", onnxruntime.__version__, "providers:", onnxruntime.get_available_providers())
try:
    print("opencv CUDA devices:", cv2.cuda.getCudaEnabledDeviceCount())
except Exception as exc:  # the PyPI wheel has no CUDA: cv2.dnn falls back to the CPU
    print("opencv has no CUDA module:", exc)
PYEOF
"$PY" -m bench.vision --device cpu --seconds 8 --repeats 10 --out "$OUT/vision_gpu_box_cpu.json"
"$PY" -m bench.vision --device cuda --seconds 8 --repeats 10 --out "$OUT/vision_gpu_box_cuda.json"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
cpu = json.load(open(f"{out}/vision_gpu_box_cpu.json"))
gpu = json.load(open(f"{out}/vision_gpu_box_cuda.json"))
print("ocr providers (cuda run):", gpu["ocr_providers"])
for name, ms in cpu["ms_per_frame"].items():
    g = gpu["ms_per_frame"][name]
    print(f"{name:26s} cpu {ms:8.1f} ms  cuda {g:8.1f} ms  speedup {ms / max(g, 1e-6):5.2f}x")
print("1-room fps cpu", cpu["pipeline_1_room"]["min_fps_per_room"],
      "cuda", gpu["pipeline_1_room"]["min_fps_per_room"])
PYEOF
