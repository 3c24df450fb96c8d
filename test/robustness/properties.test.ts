/**
 * Property-based checks over the readers of untrusted input: thousands of
 * generated broken inputs, each either read correctly or rejected with the
 * reader's own error (a message for the user) — never another exception, and
 * never a result larger than the input justifies.
 */
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile, validateConfig } from '../../src/cli/config.js';
import { parseCsv } from '../../src/data/csv.js';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import { encodeFrame, FrameError, readFrame, type FrameHeader } from '../../src/protocol/frame.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointData } from '../../src/trainer/checkpoint.js';
import { isUserError } from '../../src/util/errors.js';

const RUNS = 2000;

/** Runs `read`; a thrown error must be one of the expected kinds, with a message. */
function readOrReject<T>(read: () => T, expected: (e: unknown) => boolean): T | undefined {
  try {
    return read();
  } catch (e) {
    if (!expected(e) || !(e as Error).message) throw e;
    return undefined;
  }
}

/** A byte array with some bytes changed and possibly cut short. */
const damaged = (valid: Uint8Array) => fc.record({
  edits: fc.array(fc.record({ at: fc.nat(valid.length - 1), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
  cut: fc.option(fc.nat(valid.length), { nil: undefined }),
}).map(({ edits, cut }) => {
  const out = Uint8Array.from(valid);
  for (const { at, value } of edits) out[at] = value;
  return cut === undefined ? out : out.subarray(0, cut);
});

describe('frame decoder', () => {
  const header: FrameHeader = { v: PROTOCOL_VERSION, step: 3, shard: 0, version: 9, computeMicros: 10, tasks: [0, 1], losses: [1, 2, 3, 2, 5, 6, 7, 6], layout: [0, 4, 10, 2] };
  const valid = encodeFrame(header, Float32Array.from([1, 2, 3, 4, 5, 6]));

  it('damaged frames are read (within the frame) or rejected with a FrameError', () => {
    fc.assert(fc.property(damaged(valid), (bytes) => {
      const frame = readOrReject(() => readFrame(bytes), (e) => e instanceof FrameError);
      if (frame) expect(frame.payload.byteLength).toBeLessThanOrEqual(bytes.length);
    }), { numRuns: RUNS });
  });

  it('arbitrary bytes are rejected or read, never crash', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
      readOrReject(() => readFrame(bytes), (e) => e instanceof FrameError);
    }), { numRuns: RUNS });
  });
});

describe('checkpoint reader', () => {
  const data: CheckpointData = {
    format: 1, configHash: 'h', step: 5, epoch: 0, batchInEpoch: 5, params: Float32Array.from([1, 2, 3]),
    optimizers: [], strategyState: null, trainTotals: new Float64Array(3), skippedSteps: 0,
  };
  const valid = encodeCheckpoint(data);

  it('damaged checkpoints are read or rejected with a UserError', () => {
    fc.assert(fc.property(damaged(valid), (bytes) => {
      const c = readOrReject(() => decodeCheckpoint(bytes, 'ckpt'), isUserError);
      if (c) expect(c.params.byteLength).toBeLessThanOrEqual(bytes.length);
    }), { numRuns: RUNS });
  });
});

describe('CSV parser', () => {
  const cell = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('"', '""', ',', '\n', '\r\n', '\uFEFF', '"a,b"', ''));

  it('any text is parsed into rows of the header\'s width or rejected with a UserError', () => {
    fc.assert(fc.property(fc.array(cell, { maxLength: 40 }).map((cells) => cells.join('')), (text) => {
      const csv = readOrReject(() => parseCsv(text, 'f.csv'), isUserError);
      if (csv) {
        for (const row of csv.rows) expect(row.length).toBe(csv.header.length);
        expect(csv.rows.length).toBeLessThanOrEqual(text.length + 1);
      }
    }), { numRuns: RUNS });
  });

  it('well-formed tables round-trip through quoting', () => {
    const field = fc.string({ maxLength: 6 });
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.array(field, { minLength: 4, maxLength: 4 }), { maxLength: 5 }), (width, rows) => {
      const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
      const header = Array.from({ length: width }, (_, i) => `c${i}`);
      const body = rows.map((r) => r.slice(0, width));
      // rows whose every field is empty are blank lines, which CSV readers skip
      const kept = body.filter((r) => r.some((f) => f !== '') || width > 1);
      const text = [header, ...kept].map((r) => r.map(quote).join(',')).join('\r\n');
      const csv = parseCsv(text, 'f.csv');
      expect(csv.header).toEqual(header);
      expect(csv.rows).toEqual(kept);
    }), { numRuns: 500 });
  });
});

describe('config parser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-prop-'));
  const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.constantFrom(null, true, 0, -1, 1.5, 1e309, '', 'sum', 'cross_entropy', '__proto__'),
      fc.string({ maxLength: 10 }), fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('data', 'tasks', 'strategy', 'optimizer', 'epochs', 'lr', 'model', 'name', '__proto__', 'x'), tie('value'), { maxKeys: 4 })),
  })).value;

  it('any JSON value validates or is rejected with a UserError naming the file', () => {
    fc.assert(fc.property(json, (value) => {
      readOrReject(() => validateConfig(value, 'run.json'), (e) => isUserError(e) && (e as Error).message.includes('run.json'));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }), { numRuns: RUNS });
  });

  it('any file content reads or is rejected with a UserError', () => {
    const file = join(dir, 'run.json');
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), json.map((v) => JSON.stringify(v) ?? 'null')), (text) => {
      writeFileSync(file, text);
      readOrReject(() => readConfigFile(file), isUserError);
    }), { numRuns: 500 });
  });
});
