import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { OptimizerState } from '../optim/index.js';
import { packr } from '../protocol/codec.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { withPath } from '../util/os-error.js';
import { isUserError, UserError } from '../util/errors.js';

/**
 * A checkpoint: everything a run needs to continue bit for bit. The sampler and
 * every random choice are pure functions of (seed, epoch, step), so the position
 * (epoch, batch in epoch, global step) is the whole random state.
 *
 * File: magic "MTCKPT01", u64 body length, SHA-256 of the body, then the body
 * (msgpack, the protocol's one codec). Sizes and the hash are checked before the
 * body is decoded, so a truncated or corrupted file is an error, never a crash.
 */
export const CHECKPOINT_FORMAT = 1;
const MAGIC = Buffer.from('MTCKPT01');
const HEAD = MAGIC.length + 8 + 32;

export interface CheckpointData {
  format: number;
  /** hash of the settings that determine the run's results (see configHash) */
  configHash: string;
  step: number;
  epoch: number;
  batchInEpoch: number;
  params: Float32Array;
  optimizers: OptimizerState[];
  strategyState: unknown;
  /** the current epoch's running training-loss sums, so its report is the same after a resume */
  trainTotals: Float64Array;
  /** steps skipped because of non-finite values */
  skippedSteps: number;
  /** with early stopping: its state (early-stopping.ts), the best parameters included */
  earlyStopping?: unknown;
}

/** A stable hash of a JSON-able value (object keys sorted). */
export function configHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex').slice(0, 16);
}

export function encodeCheckpoint(data: CheckpointData): Uint8Array {
  const body = packr.pack(data);
  const out = Buffer.alloc(HEAD + body.length);
  MAGIC.copy(out, 0);
  out.writeBigUInt64LE(BigInt(body.length), MAGIC.length);
  createHash('sha256').update(body).digest().copy(out, MAGIC.length + 8);
  out.set(body, HEAD);
  return out;
}

const isF32 = (x: unknown): x is Float32Array => x instanceof Float32Array;
const isInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Decodes and validates a checkpoint; `source` names it in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): CheckpointData {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < HEAD || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new UserError(`${source}: not a multitask checkpoint (bad magic or shorter than its ${HEAD}-byte header)`);
  }
  const length = buf.readBigUInt64LE(MAGIC.length);
  if (length !== BigInt(buf.length - HEAD)) {
    throw new UserError(`${source}: truncated or padded checkpoint: header says ${length} body bytes, the file has ${buf.length - HEAD}`);
  }
  const body = buf.subarray(HEAD);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(MAGIC.length + 8, HEAD))) {
    throw new UserError(`${source}: checkpoint is corrupted (SHA-256 of its body does not match)`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(body);
  } catch (e) {
    throw new UserError(`${source}: checkpoint body does not decode: ${(e as Error).message}`);
  }
  const c = raw as Record<string, unknown>;
  const bad = (field: string, expected: string) => new UserError(`${source}: checkpoint field "${field}": expected ${expected}`);
  if (!c || typeof c !== 'object') throw bad('(root)', 'a map');
  if (c.format !== CHECKPOINT_FORMAT) throw bad('format', `format version ${CHECKPOINT_FORMAT}, got ${JSON.stringify(c.format)}`);
  if (typeof c.configHash !== 'string') throw bad('configHash', 'a string');
  for (const f of ['step', 'epoch', 'batchInEpoch', 'skippedSteps']) if (!isInt(c[f])) throw bad(f, 'a non-negative integer');
  if (!isF32(c.params)) throw bad('params', 'a Float32Array');
  if (!(c.trainTotals instanceof Float64Array)) throw bad('trainTotals', 'a Float64Array');
  if (!Array.isArray(c.optimizers)) throw bad('optimizers', 'an array of optimizer states');
  return {
    format: CHECKPOINT_FORMAT,
    configHash: c.configHash,
    step: c.step as number,
    epoch: c.epoch as number,
    batchInEpoch: c.batchInEpoch as number,
    params: c.params,
    optimizers: c.optimizers as OptimizerState[],
    strategyState: c.strategyState ?? null,
    trainTotals: c.trainTotals,
    skippedSteps: c.skippedSteps as number,
    ...(c.earlyStopping !== undefined ? { earlyStopping: c.earlyStopping } : {}),
  };
}

const NAME = /^step-(\d{9})\.ckpt$/;

/** Checkpoint files in a directory, oldest first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => NAME.test(f)).sort().map((f) => join(dir, f));
}

/** Writes a checkpoint atomically and keeps only the newest `keep`. */
export function saveCheckpoint(dir: string, data: CheckpointData, keep: number): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `step-${String(data.step).padStart(9, '0')}.ckpt`);
  writeFileAtomic(path, encodeCheckpoint(data));
  const all = listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old, { force: true });
  return path;
}

export interface LoadedCheckpoint {
  path: string;
  data: CheckpointData;
  /** newer checkpoints that did not load, newest first, each with why */
  skipped: { path: string; reason: string }[];
}

/**
 * The newest checkpoint in `dir` that loads (decodes, and `accept` does not
 * reject with a UserError), falling back to older ones; undefined when there
 * is none. When none of several loads: a UserError naming each and why.
 */
export function loadLatestCheckpoint(dir: string, accept: (data: CheckpointData, path: string) => void = () => {}): LoadedCheckpoint | undefined {
  const all = listCheckpoints(dir);
  const skipped: LoadedCheckpoint['skipped'] = [];
  for (const path of all.reverse()) {
    try {
      if (statSync(path).size > 8 * 2 ** 30) throw new UserError(`${path}: checkpoint larger than 8 GiB, refusing to read it`);
      const data = decodeCheckpoint(withPath(path, 'read', () => readFileSync(path)), path);
      accept(data, path);
      return { path, data, skipped };
    } catch (e) {
      if (!isUserError(e)) throw e;
      skipped.push({ path, reason: e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message });
    }
  }
  if (skipped.length === 0) return undefined;
  throw new UserError(`${dir}: no checkpoint loads: ${skipped.map((s) => `${basename(s.path)} (${s.reason})`).join('; ')}`);
}
