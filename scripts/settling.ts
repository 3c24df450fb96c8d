/**
 * How a new trainer's steps speed up while V8 still compiles its hot code: one
 * JSON line per segment of a fresh trainer's first steps (steps/s, and the
 * profile's compute and idle per step), the figures behind SETTLE_STEPS in
 * reference-workload.ts. Compare a run under `node --no-concurrent-recompilation`
 * (the compiler on the threads that need it, none in the background).
 *
 *   node dist/scripts/settling.js [--hidden 512] [--workers 2] [--steps 5000] [--segment 500]
 */
import { numberOption } from './options.js';
import { fullShape, SETTLE_STEPS, stepFlops, workloadConfig, createWorkloadTrainer } from './reference-workload.js';

const args = process.argv.slice(2);
const hidden = numberOption(args, '--hidden', 512, true);
const workers = numberOption(args, '--workers', 2, true);
const steps = numberOption(args, '--steps', 2 * SETTLE_STEPS, true);
const segment = numberOption(args, '--segment', 500, true);

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const trainer = await createWorkloadTrainer(workloadConfig({ hidden }, { workers }));
try {
  for (let from = 0; from < steps; from += segment) {
    trainer.profile.reset();
    const started = performance.now();
    await trainer.step(segment);
    const rate = segment / ((performance.now() - started) / 1000);
    const ms = trainer.profile.perStep();
    console.log(JSON.stringify({
      bench: 'settling', hidden, workers, fromStep: from, steps: segment, stepsPerSecond: round(rate, 1),
      gflops: round((stepFlops(fullShape({ hidden })) * rate) / 1e9, 1), computeMs: round(ms.compute), idleMs: round(ms.idle),
      settled: from >= SETTLE_STEPS,
    }));
  }
} finally {
  await trainer.close();
}
