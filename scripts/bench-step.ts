/**
 * Training-step benchmark on the reference workload (scripts/reference-workload.ts),
 * printing one JSON object per line:
 * - {"bench":"step", strategy, plan, workers, stepsPerSecond, msPerStep: {compute, transport, idle,
 *   reduce, combine, optimizer, total}, coordinatorOverhead}: median of 3 timed runs after warm-up
 * - {"bench":"torch-step", ...}: PyTorch on the same workload (when /usr/bin/python3 has torch),
 *   with the environment's OPENBLAS_CORETYPE and with SkylakeX; best thread count
 * - {"bench":"step-ratios", ...}: the figures the throughput targets are stated in
 *
 *   node dist/scripts/bench-step.js [--quick] [--no-torch]
 * (memory over a long run: scripts/memory.ts)
 */
import { spawnSync } from 'node:child_process';
import { Trainer } from '../src/trainer/trainer.js';
import type { TrainerConfig } from '../src/trainer/config.js';
import { referenceConfig } from './reference-workload.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const STEPS = quick ? 100 : 300;

function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(obj));
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function measure(label: string, over: TrainerConfig): Promise<number> {
  const trainer = await Trainer.create(referenceConfig(over));
  try {
    for (let i = 0; i < 30; i++) await trainer.step();
    const rates: number[] = [];
    trainer.profile.reset(); // the breakdown covers the timed steps only
    for (let rep = 0; rep < 3; rep++) {
        const start = performance.now();
      for (let i = 0; i < STEPS; i++) await trainer.step();
      rates.push(STEPS / ((performance.now() - start) / 1000));
    }
    rates.sort((a, b) => a - b);
    const ms = trainer.profile.perStep();
    emit({
      bench: 'step', label, strategy: trainer.config.strategy, mode: trainer.config.sequentialMode, plan: trainer.plan,
      workers: trainer.config.workers, shards: trainer.shards, kernels: `${trainer.kernels.backend}/${trainer.kernels.isa}`,
      stepsPerSecond: round(rates[1], 1),
      msPerStep: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(v)])),
      coordinatorOverhead: round(trainer.profile.overheadFraction()),
    });
    return rates[1];
  } finally {
    await trainer.close();
  }
}

function torchFigures(): { sum: number; perTask: number } | undefined {
  if (args.has('--no-torch')) return undefined;
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    emit({ bench: 'torch-step', skipped: 'no PyTorch under /usr/bin/python3 (apt-get install python3-torch)' });
    return undefined;
  }
  let sum = 0;
  let perTask = 0;
  for (const coretype of [process.env.OPENBLAS_CORETYPE, 'SkylakeX']) {
    const env = { ...process.env };
    if (coretype) env.OPENBLAS_CORETYPE = coretype;
    const run = spawnSync('/usr/bin/python3', ['scripts/torch-reference/bench_step.py', quick ? '1' : '2'], { encoding: 'utf8', env });
    if (run.status !== 0) {
      emit({ bench: 'torch-step', coretype, error: run.signal ? `killed by ${run.signal}${run.signal === 'SIGILL' ? ': this CPU lacks the instructions of that BLAS kernel' : ''}` : run.stderr.trim().split('\n').at(-1) });
      continue;
    }
    const r = JSON.parse(run.stdout);
    emit({ bench: 'torch-step', coretype: coretype ?? 'default', ...r });
    sum = Math.max(sum, r.sum);
    perTask = Math.max(perTask, r.per_task);
  }
  return sum > 0 ? { sum, perTask } : undefined;
}

const fused2 = await measure('sum fused, 2 workers', { workers: 2, strategy: 'sum' });
const fused1 = await measure('sum fused, 1 worker', { workers: 1, strategy: 'sum' });
const perTask2 = await measure('sum per-task, 2 workers', { workers: 2, strategy: 'sum', plan: 'per-task' });
await measure('sequential fresh, 2 workers', { workers: 2, strategy: 'sequential', sequentialMode: 'fresh' });
await measure('sequential stale, 2 workers', { workers: 2, strategy: 'sequential', sequentialMode: 'stale' });
const torch = torchFigures();
emit({
  bench: 'step-ratios',
  fusedTwoVsOneWorker: round(fused2 / fused1),
  fusedVsTorchSum: torch ? round(fused2 / torch.sum) : null,
  perTaskVsTorchPerTask: torch ? round(perTask2 / torch.perTask) : null,
});
