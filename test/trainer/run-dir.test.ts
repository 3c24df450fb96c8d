import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCheckpoint, type CheckpointData } from '../../src/trainer/checkpoint.js';
import { validateConfig } from '../../src/trainer/config.js';
import { RunDirectory } from '../../src/trainer/run-dir.js';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { UserError } from '../../src/util/errors.js';
import { userErrorMessage } from '../helpers/user-error.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'mt-rundir-'));

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

const snapshot = (step: number, configHash = 'abc'): CheckpointData => ({
  format: 1, configHash, step, epoch: 0, batchInEpoch: step, params: Float32Array.from([step]),
  optimizers: [], strategyState: null, trainTotals: new Float64Array(3), skippedSteps: 0,
});

describe('run names', () => {
  for (const [name, expected] of [
    ['..', 'config: name: ".." is not one path segment (a run name other than "." or "..")'],
    ['.', 'config: name: "." is not one path segment (a run name other than "." or "..")'],
    ['a/b', 'config: name: "a/b" is not a run name (letters, digits, ".", "=", "-" and "_")'],
  ] as const) {
    it(`${JSON.stringify(name)} is refused by the config schema, in one line`, () => {
      expect(userErrorMessage(() => validateConfig({ name }, 'config'))).toBe(expected);
    });
  }

  it('a 300-character name is refused with its length, not ENAMETOOLONG', () => {
    expect(userErrorMessage(() => validateConfig({ name: 'a'.repeat(300) }, 'config'))).toMatch(/is not a run name of at most 100 characters \(300 given\)$/);
    const runs = fresh();
    expect(userErrorMessage(() => RunDirectory.create(runs, 'b'.repeat(101), 'sum', {}))).toMatch(/^--name: "b{60}\.\.\." is not a run name of at most 100 characters \(101 given\)$/);
  });

  it('RunDirectory.create refuses ".." itself: nothing is written outside the runs dir', () => {
    const parent = fresh();
    const runs = join(parent, 'runs');
    expect(userErrorMessage(() => RunDirectory.create(runs, '..', 'sum', {}))).toBe('--name: ".." is not one path segment (a run name other than "." or "..")');
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('one writer per run directory', () => {
  it('a second writer is refused with one line naming the holder; released on close', () => {
    const runs = fresh();
    const run = RunDirectory.create(runs, 'x', 'sum', { a: 1 });
    const lock = JSON.parse(readFileSync(join(run.dir, 'lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid, host: hostname() });
    const message = userErrorMessage(() => RunDirectory.open(run.dir));
    expect(message).toBe(`${run.dir}: in use by process ${process.pid} on ${hostname()} since ${lock.since} (lock ${join(run.dir, 'lock')}); wait for it to finish, or remove the lock if no such process runs`);
    run.close();
    expect(existsSync(join(run.dir, 'lock'))).toBe(false);
    const again = RunDirectory.open(run.dir);
    again.run.close();
  });

  it('a stale lock (a process of this host that no longer runs) is taken over with a notice; another host\'s is not', () => {
    const runs = fresh();
    RunDirectory.create(runs, 'x', 'sum', {}).close();
    const dir = join(runs, 'x');
    const pid = deadPid();
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
    const notices: string[] = [];
    const opened = RunDirectory.open(dir, { warn: (l) => notices.push(l) });
    expect(notices).toEqual([`${dir}: took over the lock of process ${pid} on ${hostname()} since 2026-01-01T00:00:00.000Z, which no longer runs`]);
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    opened.run.close();
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z' }));
    expect(userErrorMessage(() => RunDirectory.open(dir))).toMatch(/: in use by process \d+ on elsewhere since 2026-01-01T00:00:00.000Z/);
  });
});

describe('no writes through links, no reuse of a foreign directory', () => {
  it('a directory holding files the run did not write is refused (nothing in it is touched)', () => {
    const runs = fresh();
    mkdirSync(join(runs, 'x'));
    writeFileSync(join(runs, 'x', 'notes.txt'), 'mine');
    expect(userErrorMessage(() => RunDirectory.create(runs, 'x', 'sum', {})))
      .toBe(`--name: ${join(runs, 'x')} is not empty (notes.txt) and holds no run; pick another name, or empty it`);
    expect(readdirSync(join(runs, 'x'))).toEqual(['notes.txt']);
  });

  it('a file where the run directory would go is refused in one line', () => {
    const runs = fresh();
    writeFileSync(join(runs, 'x'), 'mine');
    expect(userErrorMessage(() => RunDirectory.create(runs, 'x', 'sum', {}))).toBe(`--name: ${join(runs, 'x')} is a file, not a run directory; pick another name`);
    expect(readFileSync(join(runs, 'x'), 'utf8')).toBe('mine');
  });

  it('a planted symlink metrics.jsonl is refused on resume; its target is not truncated', () => {
    const runs = fresh();
    RunDirectory.create(runs, 'x', 'sum', {}).close();
    const dir = join(runs, 'x');
    const victim = join(fresh(), 'victim.txt');
    writeFileSync(victim, 'precious\n');
    rmSync(join(dir, 'metrics.jsonl'));
    symlinkSync(victim, join(dir, 'metrics.jsonl'));
    const { run } = RunDirectory.open(dir);
    try {
      expect(userErrorMessage(() => run.truncateMetricsTo({ step: 0, epoch: 0 })))
        .toBe(`${join(dir, 'metrics.jsonl')}: is a symbolic link; a run writes only its own files, never through a link`);
      run.record({ type: 'eval', epoch: 0, step: 0, split: 'train', tasks: {} });
      expect(userErrorMessage(() => run.flush())).toMatch(/metrics\.jsonl: is a symbolic link/);
    } finally {
      run.close();
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('a planted symlink run directory or checkpoints directory is refused', () => {
    const runs = fresh();
    const elsewhere = fresh();
    symlinkSync(elsewhere, join(runs, 'linked'));
    expect(userErrorMessage(() => RunDirectory.create(runs, 'linked', 'sum', {}))).toMatch(/linked: is a symbolic link/);
    RunDirectory.create(runs, 'x', 'sum', {}).close();
    rmSync(join(runs, 'x', 'checkpoints'), { recursive: true });
    symlinkSync(elsewhere, join(runs, 'x', 'checkpoints'));
    expect(userErrorMessage(() => RunDirectory.open(join(runs, 'x')))).toMatch(/checkpoints: is a symbolic link/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('writeFileAtomic replaces a link at the target, never writes through it', () => {
    const dir = fresh();
    const victim = join(fresh(), 'victim.txt');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, 'summary.json'));
    writeFileAtomic(join(dir, 'summary.json'), '{}');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(readFileSync(join(dir, 'summary.json'), 'utf8')).toBe('{}');
  });
});

describe('resume: checkpoints and data', () => {
  function runWithCheckpoints(): RunDirectory {
    const run = RunDirectory.create(fresh(), 'x', 'sum', {});
    for (const step of [10, 20, 30]) run.checkpoint(snapshot(step), 3);
    run.close();
    return run;
  }

  it('falls back past a corrupt newest checkpoint, saying which and why; the rejected one is set aside', () => {
    const dir = runWithCheckpoints().dir;
    const newest = join(dir, 'checkpoints', 'step-000000030.ckpt');
    const bytes = readFileSync(newest);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(newest, bytes);
    const notices: string[] = [];
    const { run } = RunDirectory.open(dir, { warn: (l) => notices.push(l) });
    const loaded = run.resumeCheckpoint(() => {});
    run.close();
    expect(loaded?.data.step).toBe(20);
    expect(run.lastGoodCheckpoint).toBe(join(dir, 'checkpoints', 'step-000000020.ckpt'));
    expect(notices).toEqual([`skipped checkpoint ${newest} (checkpoint is corrupted (SHA-256 of its body does not match)); set aside as ${newest}.rejected`]);
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['step-000000010.ckpt', 'step-000000020.ckpt', 'step-000000030.ckpt.rejected']);
  });

  it('a checkpoint the trainer rejects is skipped too; none loading is one line naming each', () => {
    const dir = runWithCheckpoints().dir;
    const { run } = RunDirectory.open(dir);
    const reject = (data: CheckpointData, path: string) => {
      if (data.step > 10) throw new UserError(`${path}: written by a run with other settings`);
    };
    expect(run.resumeCheckpoint(reject)?.data.step).toBe(10);
    writeFileSync(join(dir, 'checkpoints', 'step-000000010.ckpt'), encodeCheckpoint(snapshot(10, 'other')));
    const message = userErrorMessage(() => run.resumeCheckpoint((data, path) => {
      if (data.configHash === 'other') throw new UserError(`${path}: written by a run with other settings`);
    }));
    expect(message).toBe(`${join(dir, 'checkpoints')}: no checkpoint loads: step-000000010.ckpt (written by a run with other settings)`);
    run.close();
  });

  it('a temporary file left by a kill during a checkpoint write is removed on the next start, with a notice', () => {
    const dir = runWithCheckpoints().dir;
    const leftover = join(dir, 'checkpoints', '.step-000000040.ckpt.12345.1796450439977.tmp');
    writeFileSync(leftover, Buffer.alloc(1000));
    const notices: string[] = [];
    const { run } = RunDirectory.open(dir, { warn: (l) => notices.push(l) });
    run.close();
    expect(existsSync(leftover)).toBe(false);
    expect(notices).toEqual([`removed ${leftover}, a temporary file left by an interrupted write`]);
  });

  it('a changed data file is refused unless allowed (then recorded anew)', () => {
    const runs = fresh();
    const data = join(runs, 'data.csv');
    writeFileSync(data, 'a,b\n1,2\n');
    const run = RunDirectory.create(runs, 'x', 'sum', {});
    run.recordData([data]);
    run.close();
    const record = JSON.parse(readFileSync(join(run.dir, 'data.json'), 'utf8'));
    expect(record.files).toEqual([{ path: data, bytes: 8, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const same = RunDirectory.open(run.dir).run;
    same.checkData([data], false);
    same.close();
    writeFileSync(data, 'a,b\n1,3\n');
    const changed = RunDirectory.open(run.dir).run;
    try {
      expect(userErrorMessage(() => changed.checkData([data], false)))
        .toMatch(new RegExp(`^--resume: data file ${data} changed since the run started \\(8 bytes, sha256 [0-9a-f]{12}\\.\\.\\. then; 8 bytes, sha256 [0-9a-f]{12}\\.\\.\\. now\\); continue on the new data with --allow-data-change$`));
      changed.checkData([data], true);
      changed.checkData([data], false); // recorded anew
    } finally {
      changed.close();
    }
  });
});
