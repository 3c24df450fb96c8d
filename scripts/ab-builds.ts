/**
 * This build against another build of multitask, side by side: short windows of
 * each alternate for several rounds in one process, on the reference workload
 * (or its shape at another trunk width), so both are timed moments apart on a machine whose speed drifts. Prints one
 * JSON line per workload (medians of the rounds) and the 2 ÷ 1 worker ratios.
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci)
 *   npm run build && node dist/scripts/ab-builds.js /tmp/before [--rounds 5] [--seconds 1] [--hidden 512] [--sgd-momentum 0.9]
 *
 * --hidden runs the workloads at another trunk width (the cost curve's points);
 * --sgd-momentum μ under SGD (lr 0.01, momentum μ) instead of the reference Adam.
 *
 * The other build's `dist/scripts/reference-workload.js` makes its trainers. Each
 * trainer is made once and settled (this build's settle(): past V8's background
 * compiling) before the rounds begin, and stays up between its windows. A
 * build without `loopStats` takes steps one call at a time (its step() had no
 * count); one with it gets 8 per call, as fit() runs them.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TrainerConfig } from '../src/trainer/config.js';
import { numberOption } from './options.js';
import * as current from './reference-workload.js';

type Workloads = typeof current;

const args = process.argv.slice(2);
const otherRoot = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!otherRoot) {
  console.error('usage: node dist/scripts/ab-builds.js <root of another built checkout> [--rounds N] [--seconds S] [--hidden N] [--sgd-momentum μ]');
  process.exit(2);
}
const ROUNDS = numberOption(args, '--rounds', 5, true);
const SECONDS = numberOption(args, '--seconds', 1);
const HIDDEN = numberOption(args, '--hidden', current.REFERENCE.hidden, true);
const SGD: TrainerConfig | undefined = args.includes('--sgd-momentum')
  ? { optimizer: { name: 'sgd', lr: 0.01, momentum: numberOption(args, '--sgd-momentum', 0) } }
  : undefined;
const other = (await import(pathToFileURL(resolve(otherRoot, 'dist/scripts/reference-workload.js')).href)) as Workloads;

const CASES: [string, TrainerConfig][] = [
  ['sum fused, 2 workers', { workers: 2, strategy: 'sum' }],
  ['sum fused, 1 worker', { workers: 1, strategy: 'sum' }],
  ['pcgrad, 2 workers', { workers: 2, strategy: 'pcgrad' }],
  ['sum per-task, 2 workers', { workers: 2, strategy: 'sum', plan: 'per-task' }],
  ['sequential fresh, 2 workers', { workers: 2, strategy: 'sequential' }],
  ['sequential stale, 2 workers', { workers: 2, strategy: 'sequential', sequentialMode: 'stale' }],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

type Stepper = Awaited<ReturnType<Workloads['createWorkloadTrainer']>>;

/** A build's trainer on one workload, settled (current.settle) before any window is timed. */
async function settled(build: Workloads, over: TrainerConfig): Promise<{ trainer: Stepper; perCall: number }> {
  const trainer = await build.createWorkloadTrainer(build.workloadConfig({ hidden: HIDDEN }, { ...over, ...SGD }));
  const perCall = 'loopStats' in trainer ? 8 : 1;
  await current.settle(trainer, perCall);
  return { trainer, perCall };
}

/** Steps/s of a settled trainer over a window. */
async function rate({ trainer, perCall }: { trainer: Stepper; perCall: number }): Promise<number> {
  const started = performance.now();
  let steps = 0;
  while (performance.now() - started < SECONDS * 1000) {
    await trainer.step(perCall);
    steps += perCall;
  }
  return steps / ((performance.now() - started) / 1000);
}

// every trainer stays up, so each window is timed in the settled state
const trainers = new Map<string, { other: Awaited<ReturnType<typeof settled>>; current: Awaited<ReturnType<typeof settled>> }>();
for (const [label, over] of CASES) trainers.set(label, { other: await settled(other, over), current: await settled(current, over) });
const rates = new Map<string, { other: number[]; current: number[] }>();
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, pair] of trainers) {
      const entry = rates.get(label) ?? { other: [], current: [] };
      entry.other.push(await rate(pair.other));
      entry.current.push(await rate(pair.current));
      rates.set(label, entry);
    }
  }
} finally {
  for (const pair of trainers.values()) await Promise.all([pair.other.trainer.close(), pair.current.trainer.close()]);
}
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
for (const [label, { other: o, current: c }] of rates) {
  const ratios = c.map((x, i) => x / o[i]);
  console.log(JSON.stringify({ bench: 'ab-builds', label, hidden: HIDDEN, optimizer: SGD ? 'sgd' : 'adam', other: round(median(o), 1), current: round(median(c), 1), ratio: round(median(ratios)), ratios: ratios.map((x) => round(x, 2)) }));
}
const two = rates.get('sum fused, 2 workers')!;
const one = rates.get('sum fused, 1 worker')!;
const twoVsOne = (a: number[], b: number[]) => round(median(a.map((x, i) => x / b[i])));
console.log(JSON.stringify({ bench: 'ab-builds-two-vs-one', hidden: HIDDEN, other: twoVsOne(two.other, one.other), current: twoVsOne(two.current, one.current) }));
