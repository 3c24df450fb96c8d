/**
 * The cluster on NATS against a real nats-server and real `multitask worker`
 * processes (no mocks): same bits as the local run whatever the number of
 * workers, faults (kill -9, late joins, corrupt frames, the server going away,
 * no worker at all), credentials, and what `multitask info` says.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chunk, decodeAnswer, decodeInfo, decodeJob, decodeMessage, encodeMessage, isCount, runOfJobSubject, runSubjects, WORKER_INFO, WORKER_QUEUE } from '../../src/protocol/cluster.js';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import { commonKernels } from '../../src/trainer/cluster-pool.js';
import type { TrainerConfig } from '../../src/trainer/config.js';
import type { FitOptions } from '../../src/trainer/trainer.js';
import { BIN, stopAll, stopWorkers, TestNatsServer, WorkerProcess } from '../helpers/nats-server.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';

/** Penguins, small: 9 steps an epoch, 3 shards a step (so two workers share a step). */
const BASE: TrainerConfig = { epochs: 1, batchSize: 32, shards: 3, seed: 7, workers: 1, model: { trunk: [32, 32] } };
const STRATEGIES: [string, TrainerConfig][] = [
  ['sum (fused)', { strategy: 'sum' }],
  ['pcgrad', { strategy: 'pcgrad' }],
  ['sequential fresh', { strategy: 'sequential', sequentialMode: 'fresh' }],
  ['sequential stale', { strategy: 'sequential', sequentialMode: 'stale' }],
];

const references = new Map<string, Float32Array>();

/** The final parameters of the local run (threads only), once per config. */
async function localRun(config: TrainerConfig): Promise<Float32Array> {
  const key = JSON.stringify(config);
  if (!references.has(key)) {
    const trainer = await createTrainer(config);
    await trainer.fit();
    references.set(key, trainer.params.data.slice());
    await trainer.close();
  }
  return references.get(key)!;
}

/** A cluster run through the API; its final parameters and warnings. */
async function clusterRun(config: TrainerConfig, url: string, fit: FitOptions = {}, cluster: Partial<NonNullable<TrainerConfig['cluster']>> = {}) {
  const trainer = await createTrainer({ ...config, cluster: { url, waitMs: 10_000, ...cluster } });
  await trainer.fit(fit);
  return { params: trainer.params.data.slice(), warnings: [...trainer.warnings], steps: trainer.steps };
}

async function expectSameAsLocal(config: TrainerConfig, params: Float32Array): Promise<void> {
  const reference = await localRun(config);
  expect(params.length).toBe(reference.length);
  expect(sameBits(params, reference), 'cluster and local final parameters differ').toBe(true);
}

/** The version a worker's `want` message asks for. */
const decodeWant = (bytes: Uint8Array) => decodeMessage<{ version: number }>(bytes, 'want', { version: isCount }).version;

const servingLines = (w: WorkerProcess) => w.output.split('\n').filter((l) => l.includes('serving run')).length;

/** Watching NATS from the test: its own connection to the server. */
const watchers: NatsConnection[] = [];
async function watch(server: TestNatsServer): Promise<NatsConnection> {
  const nc = await connect({ servers: `127.0.0.1:${server.port}`, token: server.token, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  watchers.push(nc);
  return nc;
}

interface CliRun { code: number; stdout: string; stderr: string }
function cli(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const runsDir = mkdtempSync(join(tmpdir(), 'multitask-cluster-runs-'));
let server: TestNatsServer;

beforeAll(async () => {
  server = await TestNatsServer.start();
});

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((nc) => nc.close()));
  // each test starts its own workers
  await stopWorkers();
});

afterAll(async () => {
  await stopAll();
  rmSync(runsDir, { recursive: true, force: true });
});

describe('the kernels every party can run', () => {
  const k = (...isas: string[]) => isas.map((isa) => ({ backend: isa === 'js' ? 'js' as const : 'native' as const, isa }));
  it('is the fastest every offer has; js when only it is shared; none when nothing is', () => {
    expect(commonKernels([k('avx512', 'avx2', 'scalar', 'js'), k('avx2', 'scalar', 'js')])).toEqual({ backend: 'native', isa: 'avx2' });
    expect(commonKernels([k('avx512', 'avx2', 'scalar', 'js')])).toEqual({ backend: 'native', isa: 'avx512' });
    expect(commonKernels([k('avx2', 'js'), k('scalar', 'js')])).toEqual({ backend: 'js', isa: 'js' });
    expect(commonKernels([k('avx2'), k('scalar')])).toBeUndefined();
  });
});

describe('same bits as the local run', () => {
  it('one worker process: sum (fused), pcgrad, sequential fresh and stale', async () => {
    await WorkerProcess.join(server.url());
    for (const [name, s] of STRATEGIES) {
      const config = { ...BASE, ...s };
      const { params, warnings } = await clusterRun(config, server.url());
      expect(warnings, name).toEqual([]);
      await expectSameAsLocal(config, params);
    }
  });

  it('mmoe and ple on one worker process: sum (fused) and sequential fresh', async () => {
    await WorkerProcess.join(server.url());
    const models: TrainerConfig['model'][] = [{ architecture: 'mmoe', experts: 3, expert: [8] }, { architecture: 'ple', levels: 2, expert: [8] }];
    for (const model of models) {
      for (const [name, s] of [STRATEGIES[0], STRATEGIES[2]]) {
        const config = { ...BASE, ...s, model };
        const { params, warnings } = await clusterRun(config, server.url());
        expect(warnings, `${model!.architecture} ${name}`).toEqual([]);
        await expectSameAsLocal(config, params);
      }
    }
  });

  it('local threads as well as a worker process (--local-workers): the same four', async () => {
    const worker = await WorkerProcess.join(server.url());
    for (const [name, s] of STRATEGIES) {
      const config = { ...BASE, ...s };
      const before = servingLines(worker);
      const { params, warnings } = await clusterRun(config, server.url(), {}, { localWorkers: 1 });
      expect(warnings, name).toEqual([]);
      expect(servingLines(worker), `${name}: the worker process computed jobs too`).toBe(before + 1);
      await expectSameAsLocal(config, params);
    }
  });

  it('two worker processes sharing each step: the same four', async () => {
    const workers = await Promise.all([WorkerProcess.join(server.url()), WorkerProcess.join(server.url())]);
    for (const [name, s] of STRATEGIES) {
      const config = { ...BASE, ...s };
      const before = workers.map(servingLines);
      const { params, warnings } = await clusterRun(config, server.url());
      expect(warnings, name).toEqual([]);
      // both served the run (27+ jobs to a queue group of two: each gets some)
      expect(workers.map(servingLines), `${name}: both workers served`).toEqual(before.map((n) => n + 1));
      await expectSameAsLocal(config, params);
    }
  });

  it('two runs on one server at once, sharing the workers: each identical to its local run', async () => {
    await Promise.all([WorkerProcess.join(server.url()), WorkerProcess.join(server.url())]);
    const a = { ...BASE, strategy: 'sum' as const, epochs: 2 };
    const b = { ...BASE, strategy: 'sequential' as const, sequentialMode: 'fresh' as const, seed: 11, epochs: 2 };
    const [ra, rb] = await Promise.all([clusterRun(a, server.url()), clusterRun(b, server.url())]);
    await expectSameAsLocal(a, ra.params);
    await expectSameAsLocal(b, rb.params);
    expect([...ra.warnings, ...rb.warnings]).toEqual([]);
  });
});

describe('faults', () => {
  it('kill -9 of one of two workers while it holds jobs: they are re-sent, the run ends identical', async () => {
    // the victim's step-2 jobs never finish (an injected hang), so once it accepts one of them it surely
    // holds it when killed, however loaded the machine; a jobTimeoutMs of 20 s leaves the detection to the heartbeats
    const [survivor, victim] = await Promise.all([WorkerProcess.join(server.url()), WorkerProcess.joinWith({ MULTITASK_FAULTS: 'hang:2::100' }, server.url())]);
    const config: TrainerConfig = { ...BASE, batchSize: 128, shards: 16, model: { trunk: [256, 256] }, jobTimeoutMs: 20_000 };
    const nc = await watch(server);
    let killedAtStep: number | undefined;
    // the workers' answers to the coordinator's job requests go to its inbox: watch them
    nc.subscribe('_INBOX.>', {
      callback: (err, msg) => {
        if (err || killedAtStep !== undefined) return;
        try {
          const answer = decodeAnswer(msg.data);
          // steps 0 and 1 are done: an acceptance now is of a step-2 job, which hangs on the victim
          if (answer.accepted && answer.worker === victim.id && steps >= 2) {
            victim.child.kill('SIGKILL');
            killedAtStep = steps;
          }
        } catch {
          // another reply (setup, object store)
        }
      },
    });
    let steps = 0;
    const { params, warnings } = await clusterRun(config, server.url(), { onStep: () => { steps++; } });
    expect(killedAtStep, 'the victim was killed during the run').toBeDefined();
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(survivor.alive).toBe(true);
    expect(warnings.some((w) => new RegExp(`attempt 1 failed: worker ${victim.id} stopped answering; re-sending`).test(w)), warnings.join('\n')).toBe(true);
    await expectSameAsLocal(config, params);
  });

  it('a worker that joins at step 3 serves the run (it asks for the parameters it missed); the result is identical', async () => {
    await WorkerProcess.join(server.url());
    const nc = await watch(server);
    const wanted: number[] = [];
    nc.subscribe('multitask.*.want', { callback: (err, msg) => { if (!err) wanted.push(decodeWant(msg.data)); } });
    let late: WorkerProcess | undefined;
    const config: TrainerConfig = { ...BASE, epochs: 2 };
    const { params, warnings } = await clusterRun(config, server.url(), {
      onStep: async (s) => {
        if (s.step === 3) late = await WorkerProcess.join(server.url());
      },
    });
    expect(warnings).toEqual([]);
    expect(servingLines(late!), late!.output).toBe(1);
    expect(wanted.length, 'the late worker asked for the parameters').toBeGreaterThan(0);
    await expectSameAsLocal(config, params);
  });

  it('Ctrl-C (SIGINT) drains a worker mid-run: it finishes its jobs, leaves with exit 0; nothing is re-sent; identical', async () => {
    const [, leaving] = await Promise.all([WorkerProcess.join(server.url()), WorkerProcess.join(server.url())]);
    const nc = await watch(server);
    let accepted = 0;
    nc.subscribe('_INBOX.>', {
      callback: (err, msg) => {
        try {
          const answer = decodeAnswer(msg.data);
          if (!err && answer.accepted && answer.worker === leaving.id && ++accepted === 5) leaving.child.kill('SIGINT');
        } catch {
          // another reply
        }
      },
    });
    const config: TrainerConfig = { ...BASE, batchSize: 64, shards: 8, epochs: 2 };
    const { params, warnings } = await clusterRun(config, server.url());
    expect(accepted).toBeGreaterThanOrEqual(5);
    expect(await leaving.exited, leaving.output).toEqual({ code: 0, signal: null });
    expect(leaving.output).toMatch(/SIGINT: finishing the jobs in flight, then leaving/);
    expect(leaving.output).toMatch(/left after \d+ jobs of 1 run\(s\)/);
    // a job request that reached it while draining is refused and goes to the other worker; none fails
    expect(warnings.filter((w) => !/refused the job: worker \S+ is draining/.test(w))).toEqual([]);
    await expectSameAsLocal(config, params);
  });

  it('corrupt messages on the run\'s frames subject are rejected with a message; the run goes on to the same bits', async () => {
    await WorkerProcess.join(server.url());
    const nc = await watch(server);
    let frames: string | undefined;
    // a rogue member of the workers' queue group takes one job, accepts it, and answers with junk
    nc.subscribe('multitask.*.jobs', {
      queue: WORKER_QUEUE,
      max: 1,
      callback: (err, msg) => {
        if (err) return;
        const job = decodeJob(msg.data);
        frames = runSubjects(runOfJobSubject(msg.subject)!).frames;
        msg.respond(encodeMessage({ v: PROTOCOL_VERSION, worker: 'rogue', accepted: true }));
        nc.publish(frames, Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff)); // not a chunk
        for (const part of chunk('frame', job.step + 1000, job.slot, job.attempt, new Uint8Array(64), 4096)) nc.publish(frames, part); // another step
        for (const part of chunk('frame', job.step, job.slot, job.attempt, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff), 4096)) nc.publish(frames, part); // not a frame
      },
    });
    const config: TrainerConfig = { ...BASE, strategy: 'pcgrad' };
    const { params, warnings } = await clusterRun(config, server.url());
    expect(frames, 'the rogue took a job').toBeDefined();
    const said = warnings.join('\n');
    expect(said).toMatch(new RegExp(`dropped a malformed message on ${frames!.replace(/\./g, '\\.')}: chunk field "magic"`));
    expect(said).toMatch(/dropped a frame message on \S+ for step 10\d\d, slot \d+, attempt 0: no such job in flight/);
    expect(said).toMatch(/attempt 1 failed: a malformed frame: .+; re-sending/);
    await expectSameAsLocal(config, params);
  });

  it('the server stopped mid-step and restarted: the clients reconnect, jobs are re-sent, the result is identical', async () => {
    await Promise.all([WorkerProcess.join(server.url()), WorkerProcess.join(server.url())]);
    const nc = await watch(server);
    let restarted: Promise<void> | undefined;
    let jobs = 0;
    nc.subscribe('multitask.*.jobs', {
      callback: (err) => {
        // the 10th job (step 3): the server goes away with jobs in flight, and comes back 500 ms later
        if (err || ++jobs !== 10) return;
        restarted = (async () => {
          await server.stop();
          await new Promise((resolve) => setTimeout(resolve, 500));
          await server.restart();
        })();
      },
    });
    // the default jobTimeoutMs (120 s): jobs in flight must be re-sent because the connection came back, not because they timed out
    const config: TrainerConfig = { ...BASE, strategy: 'sum', epochs: 2 };
    const started = performance.now();
    const { params, warnings } = await clusterRun(config, server.url());
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(warnings.filter((w) => /no frame within/.test(w))).toEqual([]);
    expect(restarted, 'the server was stopped during the run').toBeDefined();
    await restarted;
    await expectSameAsLocal(config, params);
  });
});

describe('leaving', () => {
  it('SIGTERM while the server is gone: the worker still leaves, exit 0', async () => {
    const alone = await TestNatsServer.start();
    const worker = await WorkerProcess.join(alone.url());
    await alone.remove();
    const exit = await worker.kill('SIGTERM');
    expect(exit, worker.output).toEqual({ code: 0, signal: null });
    expect(worker.output).toMatch(/left after 0 jobs of 0 run\(s\)/);
  });
});

describe('credentials', () => {
  let locked: TestNatsServer;
  beforeAll(async () => {
    locked = await TestNatsServer.start({ token: 's3cret-token' });
  });
  afterAll(async () => {
    await locked.remove();
  });

  it('a worker with a wrong token cannot join: one line, a nonzero exit, the token not shown', async () => {
    const w = WorkerProcess.spawn(locked.url('wrong-token'));
    const exit = await w.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const lines = w.output.trim().split('\n');
    expect(lines, w.output).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`cluster nats://\\*\\*\\*@127\\.0\\.0\\.1:${locked.port}: cannot connect: the server refused the credentials`));
    expect(w.output).not.toContain('wrong-token');
  });

  it('a coordinator with a wrong token gets one line and exit 2; with the token the run goes through', async () => {
    const refused = await cli('train', '--epochs', '1', '--no-report', '--runs-dir', runsDir, '--cluster', locked.url('wrong-token'));
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/cannot connect: the server refused the credentials/);
    expect(refused.stderr).not.toContain('wrong-token');
    await WorkerProcess.join(locked.url());
    const config = { ...BASE, strategy: 'sum' as const };
    const { params } = await clusterRun(config, locked.url());
    await expectSameAsLocal(config, params);
  });
});

describe('no worker for cluster.waitMs (CLI)', () => {
  const TRAIN = ['train', '--epochs', '2', '--batch-size', '32', '--shards', '3', '--seed', '7', '--trunk', '32,32',
    '--strategy', 'sequential', '--no-report', '--runs-dir', runsDir];

  it('checkpoints and stops with exit 1 naming the URL; --resume --cluster ends identical to the undisturbed run', async () => {
    const reference = await cli(...TRAIN, '--name', 'undisturbed', '--workers', '1');
    expect(reference.code, reference.stderr).toBe(0);
    const worker = await WorkerProcess.join(server.url());
    const nc = await watch(server);
    let jobs = 0;
    // the only worker dies at the 23rd job: step 2 (9 jobs a step: 3 tasks in turn × 3 shards), in its second round,
    // after the first task's update: the step goes back to where it began, and the checkpoint is written there
    nc.subscribe('multitask.*.jobs', { callback: (err) => { if (!err && ++jobs === 23) worker.child.kill('SIGKILL'); } });
    const cut = await cli(...TRAIN, '--name', 'cut', '--cluster', server.url(), '--cluster-wait-ms', '1500');
    expect(jobs).toBeGreaterThanOrEqual(23);
    expect(cut.code, cut.stderr).toBe(1);
    const message = cut.stderr.trim().split('\n').at(-1)!;
    expect(message).toMatch(new RegExp(`cluster nats://127\\.0\\.0\\.1:${server.port}: no multitask worker answered for 1500 ms`));
    expect(message).toMatch(new RegExp(`continue with: multitask train --resume \\S+cut --cluster nats://127\\.0\\.0\\.1:${server.port}`));
    expect(message).toMatch(/last good checkpoint: \S+step-0+2\.ckpt/);
    expect(readdirSync(join(runsDir, 'cut', 'checkpoints'))).toContain('step-000000002.ckpt');

    await WorkerProcess.join(server.url());
    const resumed = await cli('train', '--resume', join(runsDir, 'cut'), '--cluster', server.url());
    expect(resumed.code, resumed.stderr).toBe(0);
    const weights = (name: string) => readFileSync(join(runsDir, name, 'weights.safetensors'));
    expect(weights('cut').equals(weights('undisturbed')), 'resumed and undisturbed weights differ').toBe(true);
  });
});

describe('multitask info', () => {
  it('lists the kernels a worker process offers, as the worker tells a coordinator', async () => {
    await WorkerProcess.join(server.url());
    const info = await cli('info');
    expect(info.code, info.stderr).toBe(0);
    const listed = /cluster worker kernels: (.+) \(fastest first\)/.exec(info.stdout)?.[1].split(', ');
    expect(listed, info.stdout).toBeDefined();
    expect(listed).toContain('js');
    const nc = await watch(server);
    const offered: string[][] = [];
    for await (const reply of await nc.requestMany(WORKER_INFO, new Uint8Array(0), { maxWait: 1000, maxMessages: 1 })) {
      offered.push(decodeInfo(reply.data).kernels.map((k) => k.isa));
    }
    expect(offered).toEqual([listed]);
  });
});
