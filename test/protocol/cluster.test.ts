import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import type { SharedDatasetHandle } from '../../src/data/dataset-handle.js';
import {
  ChunkAssembly, chunk, CHUNK_HEADER, chunkBytesFor, ClusterMessageError, decodeAnswer, decodeDataset, decodeHeartbeat, decodeInfo, decodeJob,
  decodeSetup, encodeDataset, encodeMessage, readChunk, runOfJobSubject, runSubjects, type ClusterJob,
} from '../../src/protocol/cluster.js';
import { errorMessage } from '../helpers/user-error.js';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

/** The ClusterMessageError `f` throws (fails when it throws anything else, or nothing). */
const messageOf = (f: () => unknown) => errorMessage(f, ClusterMessageError);

/** Overwrites one little-endian u32 of a chunk header (0: magic, 1–3: a b c, 4: index, 5: count, 6: total, 7: chunk size). */
function withField(msg: Uint8Array, field: number, value: number): Uint8Array {
  const copy = msg.slice();
  new DataView(copy.buffer).setUint32(field * 4, value, true);
  return copy;
}

describe('chunks', () => {
  for (const [size, chunkBytes, count] of [[0, 16, 1], [16, 16, 1], [17, 16, 2], [100, 16, 7], [4096, 1000, 5]] as const) {
    it(`${size} bytes in chunks of ${chunkBytes}: ${count} chunk(s), reassembled in any order, repeats ignored`, () => {
      const data = bytes(size);
      const parts = chunk('frame', 41, 3, 2, data, chunkBytes);
      expect(parts).toHaveLength(count);
      const headers = parts.map(readChunk);
      headers.forEach((h, i) => expect(h).toEqual({ kind: 'frame', a: 41, b: 3, c: 2, index: i, count, total: size, chunkBytes }));
      expect(parts.every((p) => p.length <= CHUNK_HEADER + chunkBytes)).toBe(true);
      const target = new Uint8Array(size + 5).fill(0xee);
      const order = parts.map((_, i) => i).reverse();
      const assembly = new ChunkAssembly(headers[order[0]], target);
      for (const i of order) {
        expect(assembly.complete).toBe(false);
        expect(assembly.add(headers[i], parts[i])).toBe(true);
        expect(assembly.add(headers[i], parts[i])).toBe(true); // a repeat changes nothing
      }
      expect(assembly.complete).toBe(true);
      expect(Buffer.from(target.subarray(0, size)).equals(Buffer.from(data))).toBe(true);
      expect([...target.subarray(size)]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee]); // nothing written past the message
    });
  }

  it('a chunk of another message does not join an assembly', () => {
    const [first] = chunk('frame', 5, 0, 0, bytes(40), 16);
    const assembly = new ChunkAssembly(readChunk(first), new Uint8Array(40));
    for (const other of [chunk('frame', 6, 0, 0, bytes(40), 16)[1], chunk('frame', 5, 1, 0, bytes(40), 16)[1], chunk('frame', 5, 0, 1, bytes(40), 16)[1],
      chunk('error', 5, 0, 0, bytes(40), 16)[1], chunk('frame', 5, 0, 0, bytes(48), 16)[1], chunk('frame', 5, 0, 0, bytes(40), 20)[1]]) {
      expect(assembly.add(readChunk(other), other)).toBe(false);
    }
    expect(assembly.complete).toBe(false);
  });

  it('a message larger than its target is refused', () => {
    const [part] = chunk('params', 1, 0, 0, bytes(64), 128);
    expect(messageOf(() => new ChunkAssembly(readChunk(part), new Uint8Array(63)))).toMatch(/64 bytes does not fit the 63 bytes/);
  });

  it('a malformed chunk is an error naming the field', () => {
    const [good, last] = chunk('frame', 1, 2, 3, bytes(50), 32);
    expect(messageOf(() => readChunk(bytes(31)))).toMatch(/chunk of 31 bytes, shorter than its 32-byte header/);
    expect(messageOf(() => readChunk(withField(good, 0, 0xdeadbeef)))).toMatch(/field "magic": 0xdeadbeef/);
    expect(messageOf(() => readChunk(withField(good, 4, 2)))).toMatch(/field "index": 2 of 2 chunks/);
    expect(messageOf(() => readChunk(withField(good, 5, 0)))).toMatch(/field "index": 0 of 0 chunks/);
    expect(messageOf(() => readChunk(withField(good, 5, 3)))).toMatch(/field "count": 3 chunks of 32 bytes do not make 50 bytes/);
    expect(messageOf(() => readChunk(withField(good, 7, 0)))).toMatch(/field "count"/);
    expect(messageOf(() => readChunk(withField(good, 6, 100)))).toMatch(/field "count"/);
    expect(messageOf(() => readChunk(good.subarray(0, good.length - 1)))).toMatch(/chunk 0 of 2 holds 31 bytes, expected 32/);
    expect(messageOf(() => readChunk(last.subarray(0, last.length - 1)))).toMatch(/chunk 1 of 2 holds 17 bytes, expected 18/);
    // random bytes never crash: either a header that checks out, or a ClusterMessageError
    for (let seed = 1; seed < 200; seed++) {
      const junk = Uint8Array.from({ length: 32 + (seed % 40) }, (_, i) => (seed * 131 + i * 71) & 0xff);
      try {
        readChunk(junk);
      } catch (e) {
        expect(e).toBeInstanceOf(ClusterMessageError);
      }
    }
  });

  it('reads a chunk that is a view into a larger buffer', () => {
    const [part] = chunk('error', 9, 8, 7, bytes(10), 64);
    const big = new Uint8Array(part.length + 11);
    big.set(part, 11);
    expect(readChunk(big.subarray(11))).toMatchObject({ kind: 'error', a: 9, b: 8, c: 7, total: 10 });
  });

  it('chunk size: below max_payload with room for the header, at most 8 MiB, at least 4 KiB', () => {
    expect(chunkBytesFor(1024 * 1024)).toBe(1024 * 1024 - CHUNK_HEADER - 1024);
    expect(chunkBytesFor(64 * 1024 * 1024)).toBe(8 * 1024 * 1024 - CHUNK_HEADER - 1024);
    expect(chunkBytesFor(100)).toBe(4096);
    expect(chunkBytesFor(1024 * 1024) + CHUNK_HEADER).toBeLessThan(1024 * 1024);
  });
});

describe('subjects', () => {
  it('carry the run id; a run id is 6 to 32 lowercase letters and digits', () => {
    expect(runSubjects('abc123')).toEqual({
      jobs: 'multitask.abc123.jobs', frames: 'multitask.abc123.frames', params: 'multitask.abc123.params',
      setup: 'multitask.abc123.setup', want: 'multitask.abc123.want',
    });
    for (const bad of ['abc', 'ABC123', 'abc.123', 'abc*12', '>', 'a'.repeat(33)]) expect(() => runSubjects(bad), bad).toThrow(/run id/);
    expect(runOfJobSubject('multitask.abc123.jobs')).toBe('abc123');
    for (const other of ['multitask.abc123.frames', 'multitask.ab.jobs', 'other.abc123.jobs', 'multitask.abc123.jobs.x']) expect(runOfJobSubject(other)).toBeUndefined();
  });
});

describe('messages', () => {
  const job: ClusterJob = {
    v: PROTOCOL_VERSION, run: 'abc123', step: 4, version: 9, shard: 1, slot: 3, tasks: [0, 2], scales: [0.5, 0.25], separate: true, attempt: 1,
    rows: Int32Array.from([5, 8, 13]),
  };
  const encode = (over: Record<string, unknown>) => encodeMessage({ ...job, ...over });

  it('a job round-trips; its rows stay an Int32Array', () => {
    const back = decodeJob(encodeMessage(job));
    expect(back).toEqual(job);
    expect(back.rows).toBeInstanceOf(Int32Array);
  });

  it('a job with a foreign or missing field is an error naming it', () => {
    expect(messageOf(() => decodeJob(encode({ v: PROTOCOL_VERSION + 1 })))).toMatch(/^job field "v": protocol version \d+, expected \d+/);
    expect(messageOf(() => decodeJob(encode({ run: undefined })))).toMatch(/job field "run"/);
    expect(messageOf(() => decodeJob(encode({ step: -1 })))).toMatch(/job field "step": -1 is not valid/);
    expect(messageOf(() => decodeJob(encode({ shard: 1.5 })))).toMatch(/job field "shard": 1.5/);
    expect(messageOf(() => decodeJob(encode({ tasks: [0, 'x'] })))).toMatch(/job field "tasks"/);
    expect(messageOf(() => decodeJob(encode({ scales: 'no' })))).toMatch(/job field "scales"/);
    expect(messageOf(() => decodeJob(encode({ separate: 1 })))).toMatch(/job field "separate"/);
    expect(messageOf(() => decodeJob(encode({ rows: [5, 8] })))).toMatch(/job field "rows"/);
    expect(messageOf(() => decodeJob(encode({ rows: Float32Array.from([5]) })))).toMatch(/job field "rows": a Float32Array is not valid/);
    expect(messageOf(() => decodeJob(encodeMessage([1, 2])))).toMatch(/^job: not a map/);
    expect(messageOf(() => decodeJob(Uint8Array.from([0x85, 0xa1])))).toMatch(/^job: not valid msgpack/);
  });

  it('setup, answers, worker info and heartbeats are checked the same way', () => {
    const v = PROTOCOL_VERSION;
    expect(decodeAnswer(encodeMessage({ v, worker: 'w1', accepted: false, reason: 'busy' }))).toMatchObject({ accepted: false, reason: 'busy' });
    expect(messageOf(() => decodeAnswer(encodeMessage({ v, worker: '', accepted: true })))).toMatch(/job answer field "worker"/);
    expect(decodeHeartbeat(encodeMessage({ v, worker: 'w1', busy: 2 })).busy).toBe(2);
    expect(messageOf(() => decodeHeartbeat(encodeMessage({ v, worker: 'w1', busy: -2 })))).toMatch(/heartbeat field "busy"/);
    expect(messageOf(() => decodeInfo(encodeMessage({ v, worker: 'w1', threads: 2, kernels: 'js' })))).toMatch(/worker info field "kernels"/);
    const setup = { v, run: 'abc123', spec: {}, dataset: 'ff', maxRows: 16, chunkBytes: 4096, kernels: { backend: 'js', isa: 'js' } };
    expect(decodeSetup(encodeMessage(setup))).toEqual(setup);
    expect(messageOf(() => decodeSetup(encodeMessage({ ...setup, kernels: { backend: 'native' } })))).toMatch(/run setup field "kernels"/);
  });
});

describe('the dataset for the object store', () => {
  const shared = (values: number[]) => {
    const a = new Float32Array(new SharedArrayBuffer(values.length * 4));
    a.set(values);
    return a;
  };
  const handle: SharedDatasetHandle = {
    kind: 'multitask.dataset', version: 1, rows: 3, inputWidth: 2, features: shared([1, 2, 3, 4, 5, 6.5]),
    tasks: [{ name: 'y', loss: 'mse', outputs: 1, targets: shared([0.5, NaN, -1]) }],
  };

  it('round-trips into shared memory, keyed by its content hash', () => {
    const { bytes: encoded, hash } = encodeDataset(handle);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(encodeDataset(handle).hash).toBe(hash); // the same data, the same key
    const back = decodeDataset(encoded, hash);
    expect(back.features.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(back.tasks[0].targets.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...back.features]).toEqual([...handle.features]);
    expect([...back.tasks[0].targets]).toEqual([0.5, NaN, -1]);
    expect(back).toMatchObject({ rows: 3, inputWidth: 2, tasks: [{ name: 'y', loss: 'mse', outputs: 1 }] });
  });

  it('bytes that do not match their hash are refused', () => {
    const { bytes: encoded, hash } = encodeDataset(handle);
    const changed = encoded.slice();
    changed[changed.length - 1] ^= 1;
    expect(messageOf(() => decodeDataset(changed, hash))).toMatch(new RegExp(`dataset ${hash}: the object store returned bytes with hash [0-9a-f]{64}`));
  });
});
