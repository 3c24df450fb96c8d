/**
 * `npm run bench -- architectures`: the synthetic study of Ma et al. (KDD 2018,
 * MMoE, section 4) with shared-bottom, MMoE and PLE at matched parameter counts,
 * and each architecture's per-step cost against the shared model. JSON lines:
 *
 * - {"bench":"architectures-model", architecture, model, parameters}: each model and its parameter count
 * - {"bench":"architectures-loss", architecture, correlation, seeds, finalTrainLoss: {task: {mean, std, median}},
 *   perSeed: [{task: loss}]}: the final training loss (mse on the standardized targets, over
 *   every training row with the final weights), mean ± sample standard deviation and median over
 *   the seeds; seed s draws its own data (weight vectors, sinusoids, inputs) and initialisation,
 *   the same for every architecture
 * - {"bench":"architectures-step", architecture, plan, workers, batchSize, shards, rounds, msPerStep,
 *   vsShared, bestMsPerStep, bestVsShared, computeMsPerStep, computeVsShared}: wall time per step
 *   (median and best of alternating rounds: architectures timed in turn, so each ratio compares
 *   figures taken moments apart on this shared machine) and the workers' compute per step
 *   (median), each against the shared model's
 * - {"bench":"architectures-done", seconds}
 *
 * The data: two regression tasks on d = 100 inputs, their weight vectors at cosine
 * ρ ∈ {1, 0.9, 0.5, 0}, y_t = w_tᵀx + Σ_10 sin(α_k·w_tᵀx + β_k) + ε (src/data/synthetic.ts).
 * Training: `sum` (fused plan), Adam lr 1e-3, batch 128, one worker (results do not depend on it).
 * The step cost: 2 worker threads computing (computeOn workers), batch 256 in 2 shards.
 *
 *   node dist/scripts/bench-architectures.js [--quick] [--seeds N] [--epochs N]
 */
import { buildLayout } from '../src/model/layout.js';
import type { TrainerConfig } from '../src/trainer/config.js';
import { Trainer } from '../src/trainer/trainer.js';
import { numberOption } from './options.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const SEEDS = numberOption(argv, '--seeds', quick ? 2 : 8, true);
const EPOCHS = numberOption(argv, '--epochs', quick ? 4 : 10, true);
const CORRELATIONS = [1, 0.9, 0.5, 0];
const INPUTS = 100;
const ROWS = quick ? 5000 : 10000; // 80% train
const STEP_ROUNDS = quick ? 3 : 5;
const STEP_SECONDS = quick ? 0.3 : 0.6;

/**
 * The three models, about 15k parameters each: MMoE 8 experts of 16 units;
 * PLE two levels, 3 shared and 2 per-task experts of 16 units each; the shared
 * bottom's width chosen to match MMoE. Every task tower (or head) has 8 hidden units.
 */
const MODELS: Record<string, TrainerConfig['model']> = {
  shared: { trunk: [126], heads: { task_0: { hidden: { units: 8 } }, task_1: { hidden: { units: 8 } } } },
  mmoe: { architecture: 'mmoe', experts: 8, expert: [16], tower: [8] },
  ple: { architecture: 'ple', levels: 2, experts: 3, taskExperts: 2, expert: [16], tower: [8] },
};

function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(obj));
}

const round = (x: number, digits = 5) => Number(x.toFixed(digits));

function config(architecture: string, correlation: number, seed: number, extra: TrainerConfig = {}): TrainerConfig {
  return {
    data: { synthetic: { rows: ROWS, inputWidth: INPUTS, tasks: 2, correlation, seed } },
    model: MODELS[architecture],
    strategy: 'sum',
    optimizer: { name: 'adam', lr: 1e-3 },
    batchSize: 128,
    seed,
    workers: 1,
    ...extra,
  };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Mean, sample standard deviation and median. */
function summary(values: number[]): { mean: number; std: number; median: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean: round(mean), std: round(Math.sqrt(variance)), median: round(median(values)) };
}

async function finalTrainLoss(architecture: string, correlation: number, seed: number): Promise<Record<string, number>> {
  const trainer = await Trainer.create(config(architecture, correlation, seed));
  try {
    await trainer.fit({ epochs: EPOCHS });
    const train = trainer.evaluate('train');
    return Object.fromEntries(Object.entries(train).map(([task, m]) => [task, m.loss]));
  } finally {
    await trainer.close();
  }
}

/** Wall and worker-compute milliseconds per step of one trainer over about `seconds` (after a warm-up). */
async function msPerStep(trainer: Trainer, seconds: number): Promise<{ wall: number; compute: number }> {
  await trainer.step(10);
  trainer.profile.reset();
  let steps = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    // a few steps per call: fused steps on the threads then run back to back, as in fit()
    await trainer.step(4);
    steps += 4;
  }
  return { wall: (performance.now() - started) / steps, compute: trainer.profile.perStep().compute ?? 0 };
}

async function stepCost(): Promise<void> {
  const workers = 2;
  for (const plan of ['fused', 'per-task'] as const) {
    const trainers: Record<string, Trainer> = {};
    for (const architecture of Object.keys(MODELS)) {
      trainers[architecture] = await Trainer.create(config(architecture, 0.5, 0, { workers, computeOn: 'workers', batchSize: 256, shards: 2, plan }));
    }
    try {
      const times: Record<string, { wall: number; compute: number }[]> = Object.fromEntries(Object.keys(MODELS).map((a) => [a, []]));
      for (let r = 0; r < STEP_ROUNDS; r++) {
        for (const architecture of Object.keys(MODELS)) times[architecture].push(await msPerStep(trainers[architecture], STEP_SECONDS));
      }
      // the median and the best round: other processes on this machine only ever add time
      const figures = (a: string) => {
        const wall = times[a].map((t) => t.wall);
        const compute = times[a].map((t) => t.compute);
        return { wall: median(wall), best: Math.min(...wall), compute: median(compute) };
      };
      const shared = figures('shared');
      for (const architecture of Object.keys(MODELS)) {
        const f = figures(architecture);
        emit({
          bench: 'architectures-step', architecture, plan, workers, batchSize: 256, shards: 2, rounds: STEP_ROUNDS,
          msPerStep: round(f.wall, 3), vsShared: round(f.wall / shared.wall, 2),
          bestMsPerStep: round(f.best, 3), bestVsShared: round(f.best / shared.best, 2),
          computeMsPerStep: round(f.compute, 3), computeVsShared: round(f.compute / shared.compute, 2),
        });
      }
    } finally {
      for (const t of Object.values(trainers)) await t.close();
    }
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  for (const [architecture, model] of Object.entries(MODELS)) {
    const trainer = await Trainer.create(config(architecture, 0.5, 0));
    emit({ bench: 'architectures-model', architecture, model, parameters: buildLayout(trainer.spec).total });
    await trainer.close();
  }
  for (const correlation of CORRELATIONS) {
    for (const architecture of Object.keys(MODELS)) {
      const perSeed: Record<string, number>[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) perSeed.push(await finalTrainLoss(architecture, correlation, seed));
      const tasks = Object.keys(perSeed[0]);
      emit({
        bench: 'architectures-loss', architecture, correlation, seeds: SEEDS, epochs: EPOCHS,
        finalTrainLoss: Object.fromEntries(tasks.map((t) => [t, summary(perSeed.map((s) => s[t]))])),
        perSeed: perSeed.map((s) => Object.fromEntries(tasks.map((t) => [t, round(s[t])]))),
      });
    }
  }
  await stepCost();
  emit({ bench: 'architectures-done', seconds: round((performance.now() - started) / 1000, 1) });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
