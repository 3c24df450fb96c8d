/**
 * Training-step benchmark on the reference workload (scripts/reference-workload.ts),
 * printing one JSON object per line:
 * - {"bench":"step", strategy, plan, workers, stepsPerSecond, msPerStep: {compute, transport, idle,
 *   reduce, combine, optimizer, total}, coordinatorOverhead, settledSteps}: median of 3 timed runs
 * - {"bench":"torch-step", ...}: PyTorch on the same workload (when /usr/bin/python3 has torch),
 *   with the environment's OPENBLAS_CORETYPE and with SkylakeX; best thread count
 * - {"bench":"step-curve", tasks, hidden, plan, workers, kernels, rounds, stepsPerSecond, mflopPerStep,
 *   gflops, torchStepsPerSecond?, vsTorch?}: the cost curve as the work grows, for tasks 1, 2, 4, 8,
 *   16 at width 512 and trunk widths 256, 1024, 2048 at 3 tasks; `sum` on 2 workers with the fused
 *   and the per-task plan, each point three alternating half-second windows of ours and PyTorch's
 *   (medians). mflopPerStep counts
 *   the matrix products the plan runs (stepFlops: the per-task plan runs the trunk backward once
 *   per task), gflops is that times steps/s. The torch fields (PyTorch's summed loss for fused,
 *   its per-task gradients for per-task; the better of a window on 1 and on 2 threads, the coretype of the reference
 *   workload) are timed right after ours for the same point, by the persistent PyTorch process.
 * - {"bench":"step-paired", round, ...}: steps/s of sum fused on 2 and 1 workers, sum per-task on 2
 *   workers and (with PyTorch) PyTorch's summed and per-task steps, in short windows that
 *   alternate for several rounds (a persistent `bench_step.py --serve` process), so each
 *   round's ratios compare figures taken moments apart on this shared machine; beside the
 *   fused windows, the thread ceiling's (scripts/thread-ceiling.ts: the same shard products on 2
 *   and on 1 bare threads, one spinning barrier a step: what 2 ÷ 1 could reach at that moment)
 *   and the exchange ceiling's (the same with a data-parallel step's data movement: shared
 *   weights, the shards' gradients summed and an Adam step by halves, two barriers)
 * - {"bench":"step-ratios", method, ...}: the figures the throughput targets are stated in,
 *   the medians of the paired rounds' ratios (twoVsOneOfCeiling, twoVsOneOfExchangeCeiling: ours
 *   2 ÷ 1 over the ceilings', per round; exchangeCeilingSerialShare: the probe's serialShare)
 * - {"bench":"small-model", round, ...} and {"bench":"small-model-ratios", ...}: the small
 *   tabular model (penguins' shape), ours with computeOn auto and on the worker threads
 *   only, beside PyTorch's summed loop on the same shape, alternating windows
 * Every trainer is timed once it has settled (reference-workload.ts, settle(): its first 2,500
 * steps, at most 5 s, while V8 still compiles on background threads that take turns with the
 * workers); settledSteps says how many it took. PyTorch compiles nothing and needs no more
 * than bench_step.py's own warm-up.
 * The "step" lines also give serialShare (1 − worker compute ÷ step time), computeBound
 * (1000 ÷ worker compute ms: steps/s if a step were its compute alone) and vsComputeBound.
 *
 *   node dist/scripts/bench-step.js [--quick] [--no-torch] [--no-curve]
 * (--quick: shorter timings; memory over a long run: scripts/memory.ts)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Trainer } from '../src/trainer/trainer.js';
import type { TrainerConfig } from '../src/trainer/config.js';
import { ThreadCeiling } from './thread-ceiling.js';
import { type Workload, type WorkloadShape, createWorkloadTrainer, fullShape, referenceConfig, settle, shardShape, SMALL_SHAPE, stepFlops, workloadConfig } from './reference-workload.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const STEPS = quick ? 100 : 300;
/** Timed seconds per curve point and plan, in Node and in PyTorch. */
const CURVE_SECONDS = quick ? 0.2 : 0.5;
/** Alternating windows per curve point (see curve()). */
const CURVE_ROUNDS = quick ? 1 : 3;
const CURVE_WORKERS = 2;
const CURVE: WorkloadShape[] = [
  ...[1, 2, 4, 8, 16].map((tasks) => ({ tasks, hidden: 512 })),
  ...[256, 1024, 2048].map((hidden) => ({ tasks: 3, hidden })),
];
const PLANS = ['fused', 'per-task'] as const;
const REFERENCE_SHAPE = fullShape();
/** Alternating rounds and seconds per window for the ratios (see paired()). */
const PAIRED_ROUNDS = quick ? 2 : 5;
const PAIRED_SECONDS = quick ? 0.3 : 1;

function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(obj));
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const kernelsName = (trainer: Trainer) => `${trainer.kernels.backend}/${trainer.kernels.isa}`;

async function withTrainer<T>(config: Workload, run: (trainer: Trainer) => Promise<T>): Promise<T> {
  const trainer = await createWorkloadTrainer(config);
  try {
    return await run(trainer);
  } finally {
    await trainer.close();
  }
}

async function measure(label: string, over: TrainerConfig): Promise<number> {
  return withTrainer(referenceConfig(over), async (trainer) => {
    const settledSteps = await settle(trainer);
    const rates: number[] = [];
    trainer.profile.reset(); // the breakdown covers the timed steps only
    for (let rep = 0; rep < 3; rep++) {
      const start = performance.now();
      await trainer.step(STEPS);
      rates.push(STEPS / ((performance.now() - start) / 1000));
    }
    rates.sort((a, b) => a - b);
    const ms = trainer.profile.perStep();
    // the compute-only bound: steps/s if a step were nothing but its worker compute
    const computeBound = 1000 / ms.compute;
    emit({
      bench: 'step', label, strategy: trainer.config.strategy, mode: trainer.config.sequentialMode, plan: trainer.plan,
      workers: trainer.config.workers, shards: trainer.shards, kernels: kernelsName(trainer), settledSteps,
      stepsPerSecond: round(rates[1], 1),
      msPerStep: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(v)])),
      coordinatorOverhead: round(trainer.profile.overheadFraction()),
      serialShare: round(1 - ms.compute / ms.total), computeBound: round(computeBound, 1), vsComputeBound: round(rates[1] / computeBound),
      // each thread's own compute: a slower core leaves the other waiting at the barriers (idle)
      computeByWorker: trainer.profile.computeByWorker().map((x) => round(x)),
    });
    return rates[1];
  });
}

/** Steps per call of trainer.step(n) in timed windows: fused steps on the threads then run back to back, as in fit(). */
const STEPS_PER_CALL = 4;

/**
 * Steps/s of a settled trainer over at least `seconds` of steps, after one
 * untimed call that wakes its threads up after another trainer's window.
 */
async function timedRate(trainer: Trainer, seconds: number): Promise<number> {
  await trainer.step(STEPS_PER_CALL);
  const start = performance.now();
  let steps = 0;
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    await trainer.step(STEPS_PER_CALL);
    steps += STEPS_PER_CALL;
    elapsed = performance.now() - start;
  }
  return steps / (elapsed / 1000);
}

/** One bench_step.py result: steps/s for the summed loss and for the per-task gradients, best thread count. */
interface TorchResult {
  tasks: number;
  hidden: number;
  sum: number;
  per_task: number;
  [field: string]: unknown;
}

/** bench_step.py's lines with OPENBLAS_CORETYPE=coretype (undefined: the environment's), or why it failed. */
function runTorch(coretype: string | undefined, scriptArgs: string[]): TorchResult[] | { error: string } {
  const env = { ...process.env };
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const run = spawnSync('/usr/bin/python3', ['scripts/torch-reference/bench_step.py', ...scriptArgs], { encoding: 'utf8', env });
  if (run.status === 0) return run.stdout.trim().split('\n').map((line) => JSON.parse(line) as TorchResult);
  if (run.signal) return { error: `killed by ${run.signal}${run.signal === 'SIGILL' ? ': this CPU lacks the instructions of that BLAS kernel' : ''}` };
  return { error: run.stderr.trim().split('\n').at(-1) || `exit status ${run.status}` };
}

/** PyTorch's summed-loss figure on the reference workload with the better coretype, and that coretype (the paired and curve windows run with it). */
interface TorchFigures {
  sum: number;
  coretype: string | undefined;
}

function torchFigures(): TorchFigures | undefined {
  if (args.has('--no-torch')) return undefined;
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    emit({ bench: 'torch-step', skipped: 'no PyTorch under /usr/bin/python3 (apt-get install python3-torch)' });
    return undefined;
  }
  let best: TorchFigures | undefined;
  for (const coretype of [process.env.OPENBLAS_CORETYPE, 'SkylakeX']) {
    const results = runTorch(coretype, [quick ? '1' : '2']);
    if ('error' in results) {
      emit({ bench: 'torch-step', coretype, error: results.error });
      continue;
    }
    // the reference lines keep their fields: the shape is implied
    const { tasks: _tasks, hidden: _hidden, ...r } = results[0];
    emit({ bench: 'torch-step', coretype: coretype ?? 'default', ...r });
    if (!best || r.sum > best.sum) {
      best = { sum: r.sum, coretype };
    }
  }
  return best;
}

/** A persistent bench_step.py --serve process: PyTorch's steps/s over a window, on request. */
function torchServer(coretype: string | undefined) {
  const env = { ...process.env };
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const child = spawn('/usr/bin/python3', ['scripts/torch-reference/bench_step.py', '--serve'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async rate(kind: 'sum' | 'per_task', threads: number, seconds: number, shape: WorkloadShape = REFERENCE_SHAPE): Promise<number> {
      const s = fullShape(shape);
      child.stdin.write(`${kind} ${threads} ${seconds} ${s.tasks}x${s.hidden}x${s.inputWidth}x${s.batch}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error('bench_step.py --serve ended early');
      return (JSON.parse(value as string) as { steps_per_second: number }).steps_per_second;
    },
    /**
     * The better of a window on 1 and a window on 2 threads: which is faster
     * changes from minute to minute here (OpenMP threads on a shared vCPU),
     * so one early pick is not trusted for the whole run.
     */
    async best(kind: 'sum' | 'per_task', seconds: number, shape: WorkloadShape = REFERENCE_SHAPE): Promise<number> {
      return Math.max(await this.rate(kind, 1, seconds, shape), await this.rate(kind, 2, seconds, shape));
    },
    close: () => child.stdin.end(),
  };
}

type TorchServer = ReturnType<typeof torchServer>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The target ratios, robust to a shared machine whose speed drifts by tens of
 * percent within a minute: short windows of each configuration, ours and
 * PyTorch's, alternate for several rounds; each round gives its own ratios and
 * the medians are reported.
 */
async function paired(server: TorchServer | undefined) {
  const configs = {
    fused2: referenceConfig({ workers: 2, strategy: 'sum' }),
    fused1: referenceConfig({ workers: 1, strategy: 'sum' }),
    perTask2: referenceConfig({ workers: 2, strategy: 'sum', plan: 'per-task' }),
  };
  const trainers = await Promise.all(Object.values(configs).map((c) => createWorkloadTrainer(c)));
  for (const trainer of trainers) await settle(trainer);
  const probe = await ThreadCeiling.start(shardShape(REFERENCE_SHAPE, 2));
  const ratios = {
    fusedTwoVsOneWorker: [] as number[], threadCeilingTwoVsOne: [] as number[], twoVsOneOfCeiling: [] as number[],
    exchangeCeilingTwoVsOne: [] as number[], twoVsOneOfExchangeCeiling: [] as number[], exchangeCeilingSerialShare: [] as number[],
    fusedVsTorchSum: [] as number[], perTaskVsTorchPerTask: [] as number[],
  };
  try {
    for (let r = 0; r < PAIRED_ROUNDS; r++) {
      const [fused2, fused1, perTask2] = trainers;
      // each of ours beside the probe on as many threads, bare and with the exchange
      const f2 = await timedRate(fused2, PAIRED_SECONDS);
      const c2 = await probe.rate(2, PAIRED_SECONDS);
      const e2 = await probe.rate(2, PAIRED_SECONDS, true);
      const f1 = await timedRate(fused1, PAIRED_SECONDS);
      const c1 = await probe.rate(1, PAIRED_SECONDS);
      const e1 = await probe.rate(1, PAIRED_SECONDS, true);
      const p2 = await timedRate(perTask2, PAIRED_SECONDS);
      const torchSum = server && (await server.best('sum', PAIRED_SECONDS));
      const torchPerTask = server && (await server.best('per_task', PAIRED_SECONDS));
      const ceiling = c2.stepsPerSecond / c1.stepsPerSecond;
      const exchange = e2.stepsPerSecond / e1.stepsPerSecond;
      ratios.fusedTwoVsOneWorker.push(f2 / f1);
      ratios.threadCeilingTwoVsOne.push(ceiling);
      ratios.twoVsOneOfCeiling.push(f2 / f1 / ceiling);
      ratios.exchangeCeilingTwoVsOne.push(exchange);
      ratios.twoVsOneOfExchangeCeiling.push(f2 / f1 / exchange);
      ratios.exchangeCeilingSerialShare.push(e2.serialShare);
      if (torchSum && torchPerTask) {
        ratios.fusedVsTorchSum.push(f2 / torchSum);
        ratios.perTaskVsTorchPerTask.push(p2 / torchPerTask);
      }
      emit({
        bench: 'step-paired', round: r + 1, seconds: PAIRED_SECONDS,
        fusedTwoWorkers: round(f2, 1), fusedOneWorker: round(f1, 1), perTaskTwoWorkers: round(p2, 1),
        ceilingTwoThreads: round(c2.stepsPerSecond, 1), ceilingOneThread: round(c1.stepsPerSecond, 1), ceilingIdleShare: round(c2.idleShare),
        exchangeTwoThreads: round(e2.stepsPerSecond, 1), exchangeOneThread: round(e1.stepsPerSecond, 1), exchangeSerialShare: round(e2.serialShare),
        ...(torchSum && torchPerTask ? { torchSum: round(torchSum, 1), torchPerTask: round(torchPerTask, 1) } : {}),
      });
    }
  } finally {
    await Promise.all([...trainers.map((t) => t.close()), probe.close()]);
  }
  return {
    fusedTwoVsOneWorker: round(median(ratios.fusedTwoVsOneWorker)),
    threadCeilingTwoVsOne: round(median(ratios.threadCeilingTwoVsOne)),
    twoVsOneOfCeiling: round(median(ratios.twoVsOneOfCeiling)),
    exchangeCeilingTwoVsOne: round(median(ratios.exchangeCeilingTwoVsOne)),
    twoVsOneOfExchangeCeiling: round(median(ratios.twoVsOneOfExchangeCeiling)),
    exchangeCeilingSerialShare: round(median(ratios.exchangeCeilingSerialShare)),
    fusedVsTorchSum: ratios.fusedVsTorchSum.length ? round(median(ratios.fusedVsTorchSum)) : null,
    perTaskVsTorchPerTask: ratios.perTaskVsTorchPerTask.length ? round(median(ratios.perTaskVsTorchPerTask)) : null,
  };
}

/**
 * The small tabular model (SMALL_SHAPE), side by side: ours with computeOn auto
 * (timed after it chose), ours on the worker threads only, and PyTorch's summed
 * loop on the same shape (best of 1 and 2 threads), in alternating windows.
 */
async function smallModel(server: TorchServer | undefined): Promise<void> {
  const auto = await createWorkloadTrainer(workloadConfig(SMALL_SHAPE, { workers: 2, strategy: 'sum', computeOn: 'auto' }));
  const threads = await createWorkloadTrainer(workloadConfig(SMALL_SHAPE, { workers: 2, strategy: 'sum', computeOn: 'workers' }));
  const ratios = { vsTorch: [] as number[], threadsVsTorch: [] as number[] };
  try {
    // until auto has chosen (its warm-ups are timed: a few thousand steps of this model)
    for (let i = 0; i < 100_000 && auto.placement.placement === 'deciding'; i++) await auto.step(STEPS_PER_CALL);
    await settle(auto);
    await settle(threads);
    for (let r = 0; r < PAIRED_ROUNDS; r++) {
      const ours = await timedRate(auto, PAIRED_SECONDS);
      const onThreads = await timedRate(threads, PAIRED_SECONDS);
      const torchRate = server && (await server.best('sum', PAIRED_SECONDS, SMALL_SHAPE));
      if (torchRate) {
        ratios.vsTorch.push(ours / torchRate);
        ratios.threadsVsTorch.push(onThreads / torchRate);
      }
      emit({
        bench: 'small-model', round: r + 1, ...SMALL_SHAPE, seconds: PAIRED_SECONDS, computeOn: auto.placement,
        stepsPerSecond: round(ours, 1), onWorkerThreads: round(onThreads, 1), ...(torchRate ? { torchSum: round(torchRate, 1) } : {}),
      });
    }
  } finally {
    await Promise.all([auto.close(), threads.close()]);
  }
  if (ratios.vsTorch.length) {
    emit({
      bench: 'small-model-ratios', method: `median over ${PAIRED_ROUNDS} alternating rounds (small-model lines)`,
      vsTorchSum: round(median(ratios.vsTorch)), workerThreadsVsTorchSum: round(median(ratios.threadsVsTorch)),
    });
  }
}

/**
 * The cost curve. Each point's trainer stays up while its windows and (with
 * PyTorch) PyTorch's alternate for CURVE_ROUNDS rounds; steps/s is the median
 * of its windows and vsTorch the median of the rounds' ratios, so one
 * disturbed window does not make the point.
 */
async function curve(server: TorchServer | undefined): Promise<void> {
  for (const shape of CURVE) {
    for (const plan of PLANS) {
      const config = workloadConfig(shape, { workers: CURVE_WORKERS, strategy: 'sum', plan });
      const rates: number[] = [];
      const ratios: number[] = [];
      const torchRates: number[] = [];
      const kernels = await withTrainer(config, async (trainer) => {
        await settle(trainer);
        for (let r = 0; r < CURVE_ROUNDS; r++) {
          const rate = await timedRate(trainer, CURVE_SECONDS);
          rates.push(rate);
          const torchRate = server && (await server.best(plan === 'fused' ? 'sum' : 'per_task', CURVE_SECONDS, shape));
          if (torchRate) {
            torchRates.push(torchRate);
            ratios.push(rate / torchRate);
          }
        }
        return kernelsName(trainer);
      });
      const rate = median(rates);
      const flops = stepFlops(shape, plan);
      emit({
        bench: 'step-curve', ...shape, plan, workers: CURVE_WORKERS, kernels, rounds: CURVE_ROUNDS,
        stepsPerSecond: round(rate, 1), mflopPerStep: round(flops / 1e6, 1), gflops: round((flops * rate) / 1e9, 1),
        ...(ratios.length ? { torchStepsPerSecond: round(median(torchRates), 1), vsTorch: round(median(ratios)) } : {}),
      });
    }
  }
}

await measure('sum fused, 2 workers', { workers: 2, strategy: 'sum' });
await measure('sum fused, 1 worker', { workers: 1, strategy: 'sum' });
await measure('sum per-task, 2 workers', { workers: 2, strategy: 'sum', plan: 'per-task' });
await measure('sequential fresh, 2 workers', { workers: 2, strategy: 'sequential', sequentialMode: 'fresh' });
await measure('sequential stale, 2 workers', { workers: 2, strategy: 'sequential', sequentialMode: 'stale' });
const torch = torchFigures();
const server = torch ? torchServer(torch.coretype) : undefined;
try {
  const ratios = await paired(server);
  await smallModel(server);
  if (!args.has('--no-curve')) await curve(server);
  emit({ bench: 'step-ratios', method: `median over ${PAIRED_ROUNDS} alternating rounds (step-paired lines)`, ...ratios });
} finally {
  server?.close();
}
