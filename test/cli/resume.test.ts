import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/model/safetensors.js';
import { decodeCheckpoint } from '../../src/trainer/checkpoint.js';
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
