import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { metricsLine, RUN_FILES, type MetricsRecord, type RunSummary } from './run-format.js';
import { isTemporaryFile, writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import { loadLatestCheckpoint, saveCheckpoint, type CheckpointData, type LoadedCheckpoint } from './checkpoint.js';
import { runNameProblem, type ResolvedConfig } from './config.js';
import { DirectoryLock, LOCK_FILE } from './run-lock.js';

export const CHECKPOINT_DIR = 'checkpoints';
export const WEIGHTS_FILE = 'weights.safetensors';
/** The data files a run was trained on: path, size and SHA-256 of each (file data only). */
export const DATA_FILE = 'data.json';

/** A name for a new run: UTC time and strategy, e.g. 2026-11-24T22-41-07-sum. */
export function defaultRunName(strategy: string): string {
  return `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}-${strategy}`;
}

/** UserError unless `name` is one safe path segment (see runNameProblem). */
export function checkRunName(name: string, option = '--name'): void {
  const problem = runNameProblem(name);
  if (problem) throw new UserError(`${option}: ${JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name)} is not ${problem}`);
}

/** Appending to a run file: never through a symbolic link. */
const APPEND = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (constants.O_NOFOLLOW ?? 0);

const isLink = (path: string) => existsSync(path) && lstatSync(path).isSymbolicLink();

function refuseLink(path: string): void {
  if (isLink(path)) throw new UserError(`${path}: is a symbolic link; a run writes only its own files, never through a link`);
}

/**
 * Locks `dir` for this process (see DirectoryLock) and removes the temporary
 * files an interrupted atomic write left in it and in its checkpoints.
 */
export function lockDirectory(dir: string, warn: (line: string) => void): DirectoryLock {
  refuseLink(dir);
  const lock = DirectoryLock.acquire(dir, warn);
  for (const sub of [dir, join(dir, CHECKPOINT_DIR)]) {
    if (!existsSync(sub) || isLink(sub)) continue;
    for (const name of readdirSync(sub).filter(isTemporaryFile)) {
      rmSync(join(sub, name), { force: true });
      warn(`removed ${join(sub, name)}, a temporary file left by an interrupted write`);
    }
  }
  return lock;
}

/** The files a config's data is read from (none for built-in, synthetic or in-memory data). */
export function dataFiles(config: Pick<ResolvedConfig, 'data' | 'tasks'>): string[] {
  const files = config.data.kind === 'file' ? [config.data.path] : [];
  for (const t of config.tasks ?? []) if (t.targets) files.push(t.targets);
  return files;
}

export interface DataFingerprint {
  path: string;
  bytes: number;
  sha256: string;
}

/** Size and SHA-256 of a file, read in pieces. */
export function fingerprint(path: string): DataFingerprint {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { path, bytes, sha256: hash.digest('hex') };
}

export interface RunOptions {
  /** notices: a stale lock taken over, leftover temporary files removed, checkpoints skipped */
  warn?: (line: string) => void;
}

/**
 * runs/<name>/: the resolved config, metrics.jsonl, checkpoints/, the final
 * weights and summary.json. Metric lines are buffered and appended at epoch
 * ends and checkpoints, so a crash loses at most the lines after the last
 * checkpoint — which a resume recomputes anyway. The directory is locked
 * while a RunDirectory writes to it (one writer per run; close() releases it).
 */
export class RunDirectory {
  private pending: string[] = [];
  /** the newest checkpoint known to load: resumed from, or written by this process */
  lastGoodCheckpoint: string | undefined;

  private constructor(readonly dir: string, private readonly lock: DirectoryLock, private readonly warn: (line: string) => void) {}

  /**
   * A new run directory; refuses to overwrite an existing run, or to reuse a
   * directory holding anything a run did not write. Without a name, one from
   * the time and strategy, with -2, -3, ... appended if it is taken.
   */
  static create(runsDir: string, name: string | undefined, strategy: string, config: unknown, options: RunOptions = {}): RunDirectory {
    if (name !== undefined) checkRunName(name);
    let dir = resolve(runsDir, name ?? defaultRunName(strategy));
    for (let n = 2; name === undefined && existsSync(dir); n++) dir = resolve(runsDir, `${defaultRunName(strategy)}-${n}`);
    mkdirSync(runsDir, { recursive: true });
    refuseLink(dir);
    if (existsSync(dir) && !lstatSync(dir).isDirectory()) throw new UserError(`--name: ${dir} is a file, not a run directory; pick another name`);
    mkdirSync(dir, { recursive: true });
    const warn = options.warn ?? (() => {});
    const lock = lockDirectory(dir, warn);
    try {
      if (existsSync(join(dir, RUN_FILES.config))) {
        throw new UserError(`--name: run directory ${dir} already holds a run (continue it with --resume ${dir}, or pick another name)`);
      }
      const foreign = readdirSync(dir).filter((f) => f !== LOCK_FILE);
      if (foreign.length > 0) {
        throw new UserError(`--name: ${dir} is not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}) and holds no run; pick another name, or empty it`);
      }
      // config.json first: a directory holding anything else holds a run
      writeFileAtomic(join(dir, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
      mkdirSync(join(dir, CHECKPOINT_DIR));
      const run = new RunDirectory(dir, lock, warn);
      run.append('');
      return run;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** A run directory's config.json as it is (no lock: for readers). */
  static readConfig(dir: string, option = '--resume'): unknown {
    const path = join(dir, RUN_FILES.config);
    if (!existsSync(path)) throw new UserError(`${option} ${dir}: not a run directory (no ${RUN_FILES.config})`);
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
    }
  }

  /** An existing run to resume (locked): its config; then resumeCheckpoint() loads the newest checkpoint that loads. */
  static open(dir: string, options: RunOptions = {}): { run: RunDirectory; config: unknown } {
    RunDirectory.readConfig(dir);
    const warn = options.warn ?? (() => {});
    const lock = lockDirectory(resolve(dir), warn);
    try {
      refuseLink(join(dir, CHECKPOINT_DIR));
      // read again under the lock: what the run holds now
      return { run: new RunDirectory(resolve(dir), lock, warn), config: RunDirectory.readConfig(dir) };
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Releases the run's lock (idempotent). */
  close(): void {
    this.lock.release();
  }

  get checkpointDir(): string {
    return join(this.dir, CHECKPOINT_DIR);
  }

  get weightsPath(): string {
    return join(this.dir, WEIGHTS_FILE);
  }

  /**
   * The newest checkpoint that loads and that `accept` takes (e.g. restores);
   * newer ones that do not are set aside as `<file>.rejected`, each with a notice saying why.
   */
  resumeCheckpoint(accept: (data: CheckpointData, path: string) => void): LoadedCheckpoint | undefined {
    const loaded = loadLatestCheckpoint(this.checkpointDir, accept);
    for (const s of loaded?.skipped ?? []) {
      renameSync(s.path, `${s.path}.rejected`);
      this.warn(`skipped checkpoint ${s.path} (${s.reason}); set aside as ${s.path}.rejected`);
    }
    this.lastGoodCheckpoint = loaded?.path;
    return loaded;
  }

  /** Records the data files' sizes and hashes (file data only; none: nothing to record). */
  recordData(files: readonly string[]): void {
    if (files.length === 0) return;
    writeFileAtomic(join(this.dir, DATA_FILE), `${JSON.stringify({ format: 1, files: files.map(fingerprint) }, null, 2)}\n`);
  }

  /**
   * Before a resume: refuses (UserError) when a data file recorded by
   * recordData changed, unless `allowChange` (then it records the new content).
   * A run without the record (older versions) gets it now.
   */
  checkData(files: readonly string[], allowChange: boolean): void {
    const path = join(this.dir, DATA_FILE);
    if (!existsSync(path)) return this.recordData(files.filter((f) => existsSync(f)));
    let recorded: DataFingerprint[];
    try {
      recorded = (JSON.parse(readFileSync(path, 'utf8')) as { files: DataFingerprint[] }).files;
      if (!Array.isArray(recorded)) throw new Error('no "files" list');
    } catch (e) {
      throw new UserError(`${path}: not a data record (${(e as Error).message})`);
    }
    const changed = recorded.filter((r) => existsSync(r.path)).map((r) => ({ r, now: fingerprint(r.path) }))
      .filter(({ r, now }) => r.bytes !== now.bytes || r.sha256 !== now.sha256);
    if (changed.length === 0) return;
    const { r, now } = changed[0];
    const what = `data file ${r.path} changed since the run started (${r.bytes} bytes, sha256 ${r.sha256.slice(0, 12)}... then; ${now.bytes} bytes, sha256 ${now.sha256.slice(0, 12)}... now)`;
    if (!allowChange) throw new UserError(`--resume: ${what}; continue on the new data with --allow-data-change`);
    this.warn(`${what}; continuing on it (--allow-data-change)`);
    this.recordData(files.filter((f) => existsSync(f)));
  }

  record(r: MetricsRecord): void {
    this.pending.push(metricsLine(r));
  }

  /** Appends whole lines to metrics.jsonl (one write; never through a link). */
  private append(text: string): void {
    const path = join(this.dir, RUN_FILES.metrics);
    let fd: number;
    try {
      fd = openSync(path, APPEND, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') refuseLink(path);
      throw e;
    }
    try {
      const bytes = Buffer.from(text);
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
    } finally {
      closeSync(fd);
    }
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.append(`${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  /** Flushes the metrics, then writes the checkpoint atomically (keeping the newest `keep`). */
  checkpoint(data: CheckpointData, keep: number): string {
    this.flush();
    this.lastGoodCheckpoint = saveCheckpoint(this.checkpointDir, data, keep);
    return this.lastGoodCheckpoint;
  }

  /**
   * Before a resume: drops metric lines the checkpoint does not cover (steps at
   * or after it, evaluations of epochs it had not finished), which the resumed
   * run writes again.
   */
  truncateMetricsTo(checkpoint: Pick<CheckpointData, 'step' | 'epoch'>): void {
    const path = join(this.dir, RUN_FILES.metrics);
    if (!existsSync(path)) return;
    refuseLink(path);
    const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as { type?: string; step?: number; epoch?: number };
        return r.type === 'eval' ? (r.epoch ?? Infinity) < checkpoint.epoch : (r.step ?? Infinity) < checkpoint.step;
      } catch {
        return false; // a line torn by a crash
      }
    });
    writeFileAtomic(path, kept.length ? `${kept.join('\n')}\n` : '');
  }

  writeSummary(summary: RunSummary): void {
    this.flush();
    writeFileAtomic(join(this.dir, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  }
}
