/**
 * `npm run bench -- architectures`: the synthetic study of Ma et al. (KDD 2018,
 * MMoE, section 4) with shared-bottom, MMoE and PLE at matched parameter counts,
 * and each architecture's per-step cost against the shared model. JSON lines:
 *
 * - {"bench":"architectures-model", architecture, model, parameters}: each model and its parameter count
 * - {"bench":"architectures-loss", architecture, correlation, seeds, finalTrainLoss: {task: {mean, std}},
 *   perSeed: [{task: loss}]}: the final training loss (mse on the standardized targets, over
 *   every training row with the final weights), mean ± standard deviation over the seeds;
 *   each seed draws its own data (weight vectors, sinusoids, inputs) and initialisation
 * - {"bench":"architectures-step", architecture, plan, workers, batchSize, shards, msPerStep, vsShared,
 *   rounds}: the median wall time per step over alternating rounds (architectures timed in
 *   turn, so each ratio compares figures taken moments apart on this shared machine)
 * - {"bench":"architectures-done", seconds}
 *
 * The data: two regression tasks on d = 100 inputs, their weight vectors at cosine
 * ρ ∈ {1, 0.9, 0.5, 0}, y_t = w_tᵀx + Σ_10 sin(α_k·w_tᵀx + β_k) + ε (src/data/synthetic.ts).
 * Training: `sum` (fused plan), Adam lr 1e-3, batch 128, one worker (results do not depend on it).
 *
 *   node dist/scripts/bench-architectures.js [--quick] [--seeds N] [--epochs N]
 */
import { buildLayout } from '../src/model/layout.js';
import type { TrainerConfig } from '../src/trainer/config.js';
import { Trainer } from '../src/trainer/trainer.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const SEEDS = option('--seeds', quick ? 2 : 3);
const EPOCHS = option('--epochs', quick ? 4 : 10);
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

function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean: round(mean), std: round(Math.sqrt(variance)) };
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

/** Steps per second of one trainer for about `seconds` (after a warm-up). */
async function msPerStep(trainer: Trainer, seconds: number): Promise<number> {
  for (let i = 0; i < 10; i++) await trainer.step();
  let steps = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await trainer.step();
    steps++;
  }
  return (performance.now() - started) / steps;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function stepCost(): Promise<void> {
  const workers = 2;
  for (const plan of ['fused', 'per-task'] as const) {
    const trainers: Record<string, Trainer> = {};
    for (const architecture of Object.keys(MODELS)) {
      trainers[architecture] = await Trainer.create(config(architecture, 0.5, 0, { workers, batchSize: 256, shards: 2, plan }));
    }
    try {
      const times: Record<string, number[]> = Object.fromEntries(Object.keys(MODELS).map((a) => [a, []]));
      for (let r = 0; r < STEP_ROUNDS; r++) {
        for (const architecture of Object.keys(MODELS)) times[architecture].push(await msPerStep(trainers[architecture], STEP_SECONDS));
      }
      const shared = median(times.shared);
      for (const architecture of Object.keys(MODELS)) {
        const ms = median(times[architecture]);
        emit({
          bench: 'architectures-step', architecture, plan, workers, batchSize: 256, shards: 2,
          msPerStep: round(ms, 3), vsShared: round(ms / shared, 2), rounds: STEP_ROUNDS,
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
        finalTrainLoss: Object.fromEntries(tasks.map((t) => [t, meanStd(perSeed.map((s) => s[t]))])),
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
