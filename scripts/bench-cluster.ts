/**
 * Cluster bench (`npm run bench -- cluster`): the reference workload (64 → 512
 * → 512, heads 10/1/1, batch 256, Adam, fused `sum`) and a wide one (trunk
 * 2048 → 2048), run on local threads, then on 1, 2 and 3 `multitask worker`
 * processes (one thread each) over a nats-server on loopback. Same shard count
 * everywhere (6), so every run computes the same bits. JSON lines:
 *
 * - {"bench":"cluster", workload, where, workers, stepsPerSecond, msPerStep: {compute, broadcast,
 *   transport, idle, reduce, combine, optimizer, total}, bytesPerStep: {params, gradients},
 *   identical}: `identical` says whether the final parameters equal the local run's bit for bit
 * - {"bench":"cluster-model", workload, ...}: the cost model of one step (README, "A step across
 *   N machines") with its constants from the local run and the 1-worker run — compute per
 *   shard, parameter and gradient bytes, loopback bandwidth, reduce + optimizer — its
 *   predictions for 2 and 3 workers next to the measured figures, and for 2–16 machines on a
 *   10 Gbit/s link.
 *
 *   node dist/scripts/bench-cluster.js [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Trainer } from '../src/trainer/trainer.js';
import { NatsServer, natsServerBinary } from './nats-server.js';
import { createWorkloadTrainer, workloadConfig, type WorkloadShape } from './reference-workload.js';

const quick = process.argv.includes('--quick');
const STEPS = quick ? 20 : 60;
const WARMUP = 5;
const SHARDS = 6;
const WORKLOADS: { name: string; shape: WorkloadShape }[] = [
  { name: 'reference', shape: { hidden: 512 } },
  { name: 'wide', shape: { hidden: 2048 } },
];
const LINK_BYTES_PER_MS = 10e9 / 8 / 1000; // 10 Gbit/s
const bin = fileURLToPath(new URL('../../bin/multitask.js', import.meta.url));

function emit(obj: Record<string, unknown>): void {
  console.log(JSON.stringify(obj));
}
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function startWorker(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, 'worker', '--connect', url, '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      if (out.includes('joined')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
  return child;
}

/** Ctrl-C for a worker (it drains), then waits for it to exit: SIGKILL after 10 s. */
async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

interface Measured {
  stepsPerSecond: number;
  ms: Record<string, number>;
  paramBytes: number;
  frameBytes: number;
  params: Float32Array;
}

async function measure(shape: WorkloadShape, cluster?: string): Promise<Measured> {
  const w = workloadConfig(shape, { shards: SHARDS, workers: 2, ...(cluster ? { cluster: { url: cluster } } : {}) });
  const trainer: Trainer = await createWorkloadTrainer(w);
  try {
    for (let i = 0; i < WARMUP; i++) await trainer.step();
    trainer.profile.reset();
    const before = trainer.cluster;
    const started = performance.now();
    for (let i = 0; i < STEPS; i++) await trainer.step();
    const seconds = (performance.now() - started) / 1000;
    const after = trainer.cluster;
    const per = trainer.profile.perStep();
    return {
      stepsPerSecond: STEPS / seconds,
      ms: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, round(v)])),
      paramBytes: after && before ? (after.paramBytes - before.paramBytes) / STEPS : 0,
      frameBytes: after && before ? (after.frameBytes - before.frameBytes) / STEPS : 0,
      params: trainer.params.data.slice(),
    };
  } finally {
    await trainer.close();
  }
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

/**
 * One step on N machines (one compute thread each) with S shards: each machine
 * computes ceil(S/N) shards (the step's compute C split evenly); the
 * parameters (P bytes) go to each of the N workers and S gradient frames (G
 * bytes each) come back, all through the NATS server next to the coordinator,
 * at B bytes/ms; then the coordinator reduces and steps (r ms):
 *   t(N) = ceil(S/N)·C/S + (N·P + S·G)/B + r.     One machine, no network: C + r.
 */
function model(C: number, P: number, G: number, B: number, r: number, n: number, shards = SHARDS): number {
  return Math.ceil(shards / n) * (C / shards) + (n * P + shards * G) / B + r;
}

async function main(): Promise<void> {
  if (!natsServerBinary()) {
    emit({ bench: 'cluster', skipped: 'nats-server is not installed (apt-get install nats-server)' });
    return;
  }
  const server = await NatsServer.start();
  const workers: ChildProcess[] = [];
  try {
    for (const { name, shape } of WORKLOADS) {
      const local = await measure(shape);
      emit({ bench: 'cluster', workload: name, where: 'local threads', workers: 2, stepsPerSecond: round(local.stepsPerSecond, 1), msPerStep: local.ms, shards: SHARDS });
      const runs: Record<number, Measured> = {};
      for (const n of [1, 2, 3]) {
        while (workers.length < n) workers.push(await startWorker(server.url()));
        const m = await measure(shape, server.url());
        runs[n] = m;
        emit({
          bench: 'cluster', workload: name, where: 'worker processes over NATS (loopback)', workers: n, stepsPerSecond: round(m.stepsPerSecond, 1),
          msPerStep: m.ms, bytesPerStep: { params: Math.round(m.paramBytes), gradients: Math.round(m.frameBytes) }, identical: sameBits(m.params, local.params),
        });
      }
      await Promise.all(workers.splice(0).map(stopWorker));
      // constants from the 1-worker run: compute, bytes (counters), reduce + optimizer; B is what
      // the rest of its step time implies (the rate bytes actually moved through server and clients)
      const one = runs[1];
      const C = one.ms.compute;
      const P = one.paramBytes;
      const G = one.frameBytes / SHARDS;
      const r = one.ms.reduce + one.ms.optimizer + one.ms.combine;
      const measuredMs = (n: number) => 1000 / runs[n].stepsPerSecond;
      const B = (P + SHARDS * G) / Math.max(1e-3, measuredMs(1) - C - r);
      const projection = (link: number) => [2, 4, 8, 16].map((n) => {
        const shards = Math.max(SHARDS, n);
        const t = model(C, P, G, link, r, n, shards);
        // the step's compute above which n machines beat one: C/n + transfer + r < C + r
        const transfer = (n * P + shards * G) / link;
        return { machines: n, predictedMs: round(t), speedupOverOneMachine: round((C + r) / t, 2), breakEvenComputeMs: round((transfer * n) / (n - 1), 1) };
      });
      emit({
        bench: 'cluster-model', workload: name, computeMs: round(C), paramBytes: Math.round(P), gradientBytesPerShard: Math.round(G),
        reduceAndOptimizerMs: round(r), oneMachineMs: round(C + r), loopbackBytesPerMs: Math.round(B),
        loopback: [1, 2, 3].map((n) => ({ workers: n, predictedMs: round(model(C, P, G, B, r, n)), measuredMs: round(measuredMs(n)) })),
        // the wire at 10 Gbit/s, and the same machines when the server and clients move bytes only as fast as here
        tenGbit: projection(LINK_BYTES_PER_MS),
        tenGbitAtLoopbackRate: projection(Math.min(B, LINK_BYTES_PER_MS)),
      });
    }
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map(stopWorker));
    await server.remove();
  }
}

await main();
