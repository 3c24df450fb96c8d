import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/model/safetensors.js';
import { configHash, decodeCheckpoint, encodeCheckpoint } from '../../src/trainer/checkpoint.js';
import { Trainer } from '../../src/trainer/trainer.js';
import { Rng } from '../../src/util/rng.js';

const bin = new URL('../../bin/multitask.js', import.meta.url).pathname;
const runs = mkdtempSync(join(tmpdir(), 'multitask-resume-'));
const TRAIN = ['--epochs', '25', '--checkpoint-every', '3', '--batch-size', '16', '--workers', '2', '--no-report', '--runs-dir', runs];

interface Finished { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Starts the CLI; `act` may signal the child (e.g. once it has printed something). */
function start(args: string[], act?: (child: ReturnType<typeof spawn>, output: () => string) => void): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    act?.(child, () => stdout);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Sends `signal` once the run has printed its second epoch line. */
const afterEpochs = (signal: NodeJS.Signals) => (child: ReturnType<typeof spawn>, out: () => string) => {
  const timer = setInterval(() => {
    if (/epoch\s+2\/25/.test(out())) {
      clearInterval(timer);
      child.kill(signal);
    }
  }, 5);
  child.on('exit', () => clearInterval(timer));
};

function weights(run: string): Map<string, Float32Array> {
  return new Map([...readSafetensors(join(runs, run, 'weights.safetensors')).tensors].map(([k, v]) => [k, v.data]));
}

function expectSameWeights(a: string, b: string): void {
  const wa = weights(a);
  const wb = weights(b);
  expect([...wb.keys()]).toEqual([...wa.keys()]);
  for (const [name, data] of wa) expect(Buffer.from(wb.get(name)!.buffer).equals(Buffer.from(data.buffer)), name).toBe(true);
}

describe('stopping and resuming from the CLI', () => {
  it('an uninterrupted reference run', async () => {
    const run = await start(['train', ...TRAIN, '--name', 'whole']);
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} finishes the step, checkpoints, exits ${code}; --resume ends identical to the uninterrupted run`, async () => {
      const name = `stopped-${signal}`;
      const stopped = await start(['train', ...TRAIN, '--name', name], afterEpochs(signal));
      expect(stopped.code, stopped.stderr).toBe(code);
      const last = stopped.stderr.trim().split('\n').at(-1)!;
      expect(last).toMatch(new RegExp(`stopped by ${signal} at step \\d+; checkpoint .*\\.ckpt; continue with: multitask train --resume .*${name}`));
      expect(stopped.stderr).not.toMatch(/\n\s+at /);
      const resumed = await start(['train', '--resume', join(runs, name)]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/resuming .* at epoch/);
      expectSameWeights('whole', name);
    }, 60_000);
  }

  it('SIGKILL at random moments (checkpoint writes included): resumes end identical, every checkpoint loads', async () => {
    const name = 'killed';
    const rng = new Rng(2026);
    const dir = join(runs, name);
    let finished = false;
    let kills = 0;
    for (let attempt = 0; attempt < 12 && !finished; attempt++) {
      // killed before the run directory existed: start again; otherwise resume
      const args = existsSync(join(dir, 'config.json')) ? ['train', '--resume', dir] : ['train', ...TRAIN, '--name', name];
      // kill at a random moment once training is under way (startup time varies a lot on shared machines)
      const delay = rng.int(250);
      const run = await start(args, (child, out) => {
        const wait = setInterval(() => {
          if (!out().includes('each task:')) return;
          clearInterval(wait);
          setTimeout(() => child.kill('SIGKILL'), delay);
        }, 5);
        child.on('exit', () => clearInterval(wait));
      });
      finished = run.code === 0;
      if (run.signal === 'SIGKILL') kills++;
      if (!existsSync(join(dir, 'checkpoints'))) continue;
      for (const file of readdirSync(join(dir, 'checkpoints'))) {
        const path = join(runs, name, 'checkpoints', file);
        if (file.endsWith('.ckpt')) expect(() => decodeCheckpoint(readFileSync(path), path)).not.toThrow();
      }
    }
    if (!finished) {
      const last = await start(['train', '--resume', join(runs, name)]);
      expect(last.code, last.stderr).toBe(0);
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    expectSameWeights('whole', name);
  }, 120_000);

  it('--resume refuses to change the run\'s settings', async () => {
    const run = await start(['train', '--resume', join(runs, 'whole'), '--lr', '0.5']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--lr cannot change them/);
  });
});

describe('a run directory\'s config.json is a config', () => {
  it('passed to Trainer.create as it is, it starts the same run (same final weights)', async () => {
    const run = await start(['train', '--epochs', '2', '--batch-size', '32', '--workers', '2', '--no-report', '--runs-dir', runs, '--name', 'as-api', '--seed', '5', '--trunk', '16']);
    expect(run.code, run.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(join(runs, 'as-api', 'config.json'), 'utf8'));
    const trainer = await Trainer.create(stored);
    try {
      await trainer.fit();
      const cli = weights('as-api');
      const api = trainer.parameters();
      expect(Object.keys(api)).toEqual([...cli.keys()]);
      for (const [name, data] of cli) expect(Buffer.from(api[name].buffer).equals(Buffer.from(data.buffer)), name).toBe(true);
    } finally {
      await trainer.close();
    }
  }, 60_000);

  /** What the earlier version hashed for the default config (its resolved API config without workers). */
  const OLD_DEFAULT = {
    onNonFinite: 'stop', clipGradNorm: null, jobTimeoutMs: 120000, lrSchedule: null, taskLrSchedules: {}, jobRetries: 2,
    data: { kind: 'penguins' }, trunk: [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }], heads: {}, taskWeights: {},
    strategy: 'sum', strategyOptions: {}, weighting: null, sequentialMode: 'fresh', plan: 'auto', optimizer: { name: 'adam', lr: 0.01 },
    taskLr: {}, batchSize: 32, shards: 'auto', seed: 0, validationFraction: 0.2,
  };
  const OLD_STORED: Record<string, unknown> = {
    format: 2,
    config: {
      runsDir: runs, data: { builtin: 'penguins' }, validation: 0.2, model: { trunk: [64, 64], activation: 'relu' }, strategy: 'sum',
      sequentialMode: 'fresh', plan: 'auto', optimizer: { name: 'adam', lr: 0.01 }, schedule: { kind: 'constant' }, epochs: 2, batchSize: 32,
      seed: 0, checkpointEvery: 500, keepCheckpoints: 3, onNonFinite: 'stop', report: false,
    },
  };
  const OLD_FORMAT_1 = { format: 1, trainer: { workers: 2 }, epochs: 2, checkpointEvery: 500, keepCheckpoints: 3 };

  for (const [format, stored] of [[2, OLD_STORED], [1, OLD_FORMAT_1]] as const) {
    it(`an older run directory (format ${format}, checkpoint with the old config hash) still resumes and evaluates`, async () => {
      const name = `old-format-${format}`;
      const first = await start(['train', '--epochs', '1', '--workers', '2', '--no-report', '--runs-dir', runs, '--name', name]);
      expect(first.code, first.stderr).toBe(0);
      const dir = join(runs, name);
      // as the earlier version wrote it: its config.json format, its config hash in the checkpoint
      writeFileSync(join(dir, 'config.json'), JSON.stringify(stored));
      const ckptDir = join(dir, 'checkpoints');
      for (const file of readdirSync(ckptDir)) {
        const data = decodeCheckpoint(readFileSync(join(ckptDir, file)), file);
        writeFileSync(join(ckptDir, file), encodeCheckpoint({ ...data, configHash: configHash(OLD_DEFAULT) }));
      }
      const resumed = await start(['train', '--resume', dir, '--workers', '2']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/resuming .* at epoch 2/);
      const evaluated = await start(['eval', dir]);
      expect(evaluated.code, evaluated.stderr).toBe(0);
      expect(evaluated.stdout).toMatch(/species/);
    }, 60_000);
  }
});
