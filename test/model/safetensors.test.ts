import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkAgainstLayout, encodeSafetensors, loadParametersFile, readSafetensors, readSafetensorsHeader,
  saveParameters, writeSafetensors,
} from '../../src/model/safetensors.js';
import { ParameterStore } from '../../src/model/parameters.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { UserError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'multitask-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec: ModelSpec = {
  inputWidth: 5,
  trunk: [{ units: 7, activation: 'relu' }, { units: 6, activation: 'tanh' }],
  tasks: [
    { name: 'species', loss: 'cross_entropy', outputs: 3, weight: 1 },
    { name: 'sex', loss: 'bce_with_logits', outputs: 1, hidden: { units: 4, activation: 'gelu' }, weight: 0.5 },
    { name: 'mass', loss: 'mse', outputs: 1, weight: 2 },
  ],
};

const tensors = [
  { name: 'a.weight', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, Math.fround(Math.PI)]) },
  { name: 'a.bias', shape: [2], data: Float32Array.from([Infinity, -7]) },
  { name: 'scalar', shape: [], data: Float32Array.from([42]) },
];

/** An independent reader: the format's definition, straight from bytes with a DataView. */
function tinyReader(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
  for (const [name, info] of Object.entries<any>(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const values: number[] = [];
    for (let at = 8 + n + begin; at < 8 + n + end; at += 4) values.push(view.getFloat32(at, true));
    out[name] = { dtype: info.dtype, shape: info.shape, values };
  }
  return { n, header, tensors: out };
}

/** A file with a hand-made header and data area. */
function craft(header: unknown, data: Uint8Array | number = 0, pad = true): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) while (json.length % 8) json += ' ';
  const h = Buffer.from(json, 'utf8');
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(body, 8 + h.length);
  return out;
}

function expectUserError(fn: () => unknown, ...patterns: RegExp[]): void {
  let error: unknown;
  try { fn(); } catch (e) { error = e; }
  expect(error, 'expected an error').toBeInstanceOf(UserError);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
}

describe('safetensors writing', () => {
  it('round-trips tensors and metadata through a file', () => {
    const path = join(dir, 'round.safetensors');
    writeSafetensors(path, tensors, { format: 'pt', note: 'héllo' });
    const file = readSafetensors(path);
    expect([...file.tensors.keys()]).toEqual(['a.weight', 'a.bias', 'scalar']);
    for (const t of tensors) {
      const got = file.tensors.get(t.name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
      expect(Object.is(got.data[4], -0) || t.name !== 'a.weight').toBe(true);
    }
    expect({ ...file.metadata }).toEqual({ format: 'pt', note: 'héllo' });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes what an independent reader of the format sees', () => {
    const bytes = encodeSafetensors(tensors, { k: 'v' });
    const { n, header, tensors: read } = tinyReader(bytes);
    expect(n % 8).toBe(0);
    expect(header.__metadata__).toEqual({ k: 'v' });
    expect(header['a.weight']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header['a.bias'].data_offsets).toEqual([24, 32]);
    expect(header.scalar.data_offsets).toEqual([32, 36]);
    expect(bytes.length).toBe(8 + n + 36);
    for (const t of tensors) expect(read[t.name].values).toEqual(Array.from(t.data));
  });

  it('reads float32 from a subarray at an odd byte offset', () => {
    const bytes = encodeSafetensors(tensors);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const file = readSafetensors(shifted.subarray(3));
    expect(Array.from(file.tensors.get('a.weight')!.data)).toEqual(Array.from(tensors[0].data));
  });

  it('rejects inconsistent tensors to write', () => {
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/3 values/);
    expect(() => encodeSafetensors([tensors[0], tensors[0]])).toThrow(/twice/);
    expect(() => encodeSafetensors([{ name: '__metadata__', shape: [1], data: new Float32Array(1) }])).toThrow(/name/);
  });

  it('overwrites atomically and leaves no temporary file', () => {
    const path = join(dir, 'over.safetensors');
    writeSafetensors(path, tensors);
    writeSafetensors(path, [tensors[2]]);
    expect([...readSafetensors(path).tensors.keys()]).toEqual(['scalar']);
    expect(readdirSync(dir).filter((f) => f.includes('over.safetensors'))).toEqual(['over.safetensors']);
  });
});

describe('safetensors reading other dtypes', () => {
  it('converts F16, BF16 and F64 to float32', () => {
    const f16 = new Uint8Array(8);
    const v16 = new DataView(f16.buffer);
    [0x3c00, 0xc000, 0x0001, 0x7c00].forEach((h, i) => v16.setUint16(i * 2, h, true)); // 1, -2, 2^-24, inf
    const bf16 = new Uint8Array(4);
    new DataView(bf16.buffer).setUint16(0, 0x3fc0, true); // 1.5
    new DataView(bf16.buffer).setUint16(2, 0xc120, true); // -10
    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 0.1, true);
    new DataView(f64.buffer).setFloat64(8, -3, true);
    const data = new Uint8Array(28);
    data.set(f16, 0); data.set(bf16, 8); data.set(f64, 12);
    const file = readSafetensors(craft({
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
      d: { dtype: 'F64', shape: [2, 1], data_offsets: [12, 28] },
    }, data));
    expect(Array.from(file.tensors.get('h')!.data)).toEqual([1, -2, 2 ** -24, Infinity]);
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([1.5, -10]);
    expect(Array.from(file.tensors.get('d')!.data)).toEqual([Math.fround(0.1), -3]);
    expect(file.tensors.get('d')!.dtype).toBe('F64');
  });

  it('rejects an integer dtype, naming the tensor', () => {
    const bytes = craft({ steps: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8);
    expectUserError(() => readSafetensors(bytes), /tensor steps has dtype I64/);
    expect(readSafetensorsHeader(bytes).tensors.get('steps')!.dtype).toBe('I64');
  });
});

describe('safetensors hostile input', () => {
  const good = encodeSafetensors(tensors, { k: 'v' });

  it('rejects a file too short for the header length', () => {
    expectUserError(() => readSafetensors(new Uint8Array(5)), /too short/);
    expectUserError(() => readSafetensors(new Uint8Array(0)), /too short/);
  });

  it('rejects truncated files at every length', () => {
    for (let len = 0; len < good.length; len++) {
      expectUserError(() => readSafetensors(good.subarray(0, len)), /not a valid safetensors file/);
    }
  });

  it('rejects a header length beyond the file or above the limit, before allocating', () => {
    const bytes = good.slice();
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
    expectUserError(() => readSafetensors(bytes), /beyond the end of the file/);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length - 7), true);
    expectUserError(() => readSafetensors(bytes), /beyond the end of the file/);
    expectUserError(() => readSafetensors(good, { maxHeaderBytes: 16 }), /exceeds the 16-byte limit/);
  });

  it('rejects a huge header length in a file on disk without reading it', () => {
    const path = join(dir, 'huge-n.safetensors');
    const bytes = good.slice();
    new DataView(bytes.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    writeFileSync(path, bytes);
    expectUserError(() => readSafetensors(path), new RegExp(`${path}.*beyond the end`));
  });

  it('rejects garbage bytes', () => {
    const garbage = new Uint8Array(256);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 97 + 13) & 0xff;
    new DataView(garbage.buffer).setBigUint64(0, 64n, true);
    expectUserError(() => readSafetensors(garbage), /not UTF-8 JSON/);
    expectUserError(() => readSafetensors(craft('{"a": ')), /not UTF-8 JSON/);
  });

  it('rejects JSON that is not an object of tensor entries', () => {
    expectUserError(() => readSafetensors(craft('[1, 2]')), /not a JSON object/);
    expectUserError(() => readSafetensors(craft('null')), /not a JSON object/);
    expectUserError(() => readSafetensors(craft({ x: 3 })), /tensor "x": entry is not an object/);
    expectUserError(() => readSafetensors(craft({ __metadata__: { a: 1 } })), /__metadata__ "a" is 1, not a string/);
    expectUserError(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4)), /shape/);
    expectUserError(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4)), /shape/);
    expectUserError(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4)), /data_offsets/);
    expectUserError(() => readSafetensors(craft({ x: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4)), /unknown dtype "Q4"/);
  });

  it('rejects offsets out of range, overlapping, with gaps or inconsistent with the shape', () => {
    const entry = (shape: number[], offsets: number[]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    expectUserError(() => readSafetensors(craft({ x: entry([2], [0, 8]) }, 4)), /tensor "x".*needs more bytes|beyond the data area/);
    expectUserError(() => readSafetensors(craft({ x: entry([1], [4, 8]) }, 4)), /tensor "x".*beyond the data area/);
    expectUserError(() => readSafetensors(craft({ x: entry([1], [8, 4]) }, 8)), /end before they begin/);
    expectUserError(() => readSafetensors(craft({ x: entry([2], [0, 4]) }, 8)), /tensor "x".*hold 4 bytes.*needs 8/);
    expectUserError(() => readSafetensors(craft({ x: entry([2], [0, 8]), y: entry([2], [4, 12]) }, 12)),
      /tensor "y".*overlap tensor "x"/);
    expectUserError(() => readSafetensors(craft({ x: entry([1], [0, 4]), y: entry([1], [8, 12]) }, 12)),
      /tensor "y".*gap/);
    expectUserError(() => readSafetensors(craft({ x: entry([1], [0, 4]) }, 8)), /cover 4 bytes of data, the file has 8/);
    expectUserError(() => readSafetensors(craft({ x: entry([1e12, 1e12], [0, 4]) }, 4)), /needs more bytes/);
    expectUserError(() => readSafetensors(craft({ x: entry([1], [0, 2 ** 60]) }, 4)), /shape|data_offsets/);
  });

  it('accepts empty tensors and tensors in any header order', () => {
    const entry = (shape: number[], offsets: number[]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    const data = new Uint8Array(8);
    new DataView(data.buffer).setFloat32(0, 5, true);
    new DataView(data.buffer).setFloat32(4, 6, true);
    const file = readSafetensors(craft({ y: entry([1], [4, 8]), e: entry([0, 3], [4, 4]), x: entry([1], [0, 4]) }, data, false));
    expect(Array.from(file.tensors.get('x')!.data)).toEqual([5]);
    expect(Array.from(file.tensors.get('y')!.data)).toEqual([6]);
    expect(file.tensors.get('e')!.data.length).toBe(0);
  });

  it('treats __proto__ as a plain name: no prototype pollution', () => {
    const header = '{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
      + ' "__metadata__": {"__proto__": "x", "polluted": "no"}}';
    const file = readSafetensors(craft(header, 4));
    expect([...file.tensors.keys()]).toEqual(['__proto__']);
    expect(Object.keys(file.metadata).sort()).toEqual(['__proto__', 'polluted']);
    expect(file.metadata.__proto__).toBe('x');
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).dtype).toBeUndefined();
    expectUserError(() => checkAgainstLayout(file, [{ name: 'x', shape: [1] }], 'p.safetensors'),
      /missing tensor x \[1\]/, /extra tensor __proto__/);
  });

  it('reports a missing file as a UserError naming it', () => {
    expectUserError(() => readSafetensors(join(dir, 'nope.safetensors')), /nope\.safetensors: cannot open.*ENOENT/);
    expectUserError(() => readSafetensors(dir), /not a regular file/);
  });

  it('never throws anything but a UserError on mutated bytes', () => {
    let seed = 12345;
    const rand = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const bytes = good.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      try {
        readSafetensors(bytes);
        accepted++;
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
      }
    }
    expect(accepted).toBeGreaterThan(0); // flips inside the data area are valid floats
  });
});

describe('safetensors and the model layout', () => {
  it('saves parameters with PyTorch names and loads them back', () => {
    const path = join(dir, 'model.safetensors');
    const store = ParameterStore.create(spec, 1);
    saveParameters(path, store, { run: 'test' });
    const file = readSafetensors(path);
    expect([...file.tensors.keys()]).toEqual(store.layout.entries.map((e) => e.name));
    expect(file.tensors.get('trunk.0.weight')!.shape).toEqual([7, 5]);
    expect(file.tensors.get('heads.sex.hidden.weight')!.shape).toEqual([4, 6]);
    expect(file.metadata.format).toBe('pt');
    expect(file.metadata.run).toBe('test');
    expect(JSON.parse(file.metadata['multitask.model'])).toEqual(spec);

    const other = ParameterStore.create(spec, 2);
    const version = other.version;
    expect(Array.from(other.data)).not.toEqual(Array.from(store.data));
    const metadata = loadParametersFile(path, other);
    expect(Array.from(other.data)).toEqual(Array.from(store.data));
    expect(other.version).toBe(version + 1);
    expect(metadata.run).toBe('test');
  });

  const entries = ParameterStore.create(spec, 1).layout.entries;
  const fileFor = (mutate: (list: { name: string; shape: number[]; data: Float32Array }[]) => void) => {
    const list = entries.map((e) => ({ name: e.name, shape: [...e.shape], data: new Float32Array(e.size) }));
    mutate(list);
    return encodeSafetensors(list);
  };

  it('names missing, extra and wrongly shaped tensors', () => {
    const missing = readSafetensors(fileFor((l) => l.splice(l.findIndex((t) => t.name === 'heads.mass.bias'), 1)));
    expectUserError(() => checkAgainstLayout(missing, entries, 'w.safetensors'),
      /^w\.safetensors: .*missing tensor heads\.mass\.bias \[1\]/);
    const extra = readSafetensors(fileFor((l) => l.push({ name: 'heads.color.weight', shape: [2, 6], data: new Float32Array(12) })));
    expectUserError(() => checkAgainstLayout(extra, entries, 'w.safetensors'), /extra tensor heads\.color\.weight \[2, 6\]/);
    const shaped = readSafetensors(fileFor((l) => { l[0].shape = [5, 7]; }));
    expectUserError(() => checkAgainstLayout(shaped, entries, 'w.safetensors'),
      /tensor trunk\.0\.weight has shape \[5, 7\], the model needs \[7, 5\]/);
    const flat = readSafetensors(fileFor((l) => { l[1].shape = [7, 1]; }));
    expectUserError(() => checkAgainstLayout(flat, entries, 'w.safetensors'), /trunk\.0\.bias has shape \[7, 1\]/);
  });

  it('names a tensor of an unsupported dtype', () => {
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const e of entries) {
      const dtype = e.name === 'trunk.1.bias' ? 'I32' : 'F32';
      header[e.name] = { dtype, shape: e.shape, data_offsets: [offset, offset + e.size * 4] };
      offset += e.size * 4;
    }
    const bytes = craft(header, offset);
    expectUserError(() => checkAgainstLayout(readSafetensorsHeader(bytes), entries, 'w.safetensors'),
      /tensor trunk\.1\.bias has dtype I32/);
    const path = join(dir, 'int.safetensors');
    writeFileSync(path, bytes);
    expectUserError(() => loadParametersFile(path, ParameterStore.create(spec, 1)), /int\.safetensors.*trunk\.1\.bias has dtype I32/);
  });

  it('loads nothing from a mismatched file', () => {
    const path = join(dir, 'wrong.safetensors');
    writeFileSync(path, fileFor((l) => { l.pop(); l[0].data.fill(9); }));
    const store = ParameterStore.create(spec, 3);
    const before = Array.from(store.data);
    expectUserError(() => loadParametersFile(path, store), /wrong\.safetensors.*missing tensor heads\.mass\.bias/);
    expect(Array.from(store.data)).toEqual(before);
    expect(readFileSync(path).length).toBeGreaterThan(8);
  });
});

describe('safetensors properties (fast-check)', () => {
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  /** Reads or rejects with a UserError; what it reads is consistent and no bigger than the input justifies. */
  const readsOrRejects = (bytes: Uint8Array) => {
    try {
      const file = readSafetensors(bytes);
      let floats = 0;
      for (const t of file.tensors.values()) {
        expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        floats += t.data.length;
      }
      expect(floats * 4).toBeLessThanOrEqual(2 * bytes.length); // F16/BF16 double in size, nothing more
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
    }
  };

  it('round-trips any float32 tensors bit for bit', () => {
    const tensor = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => fc.record({
      name: fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== '__metadata__'),
      shape: fc.constant(shape),
      data: fc.float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }),
    }));
    fc.assert(fc.property(
      fc.uniqueArray(tensor, { selector: (t) => t.name, maxLength: 6 }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
      (list, metadata) => {
        const file = readSafetensors(encodeSafetensors(list, metadata));
        expect([...file.tensors.keys()].sort()).toEqual(list.map((t) => t.name).sort());
        for (const t of list) {
          expect(file.tensors.get(t.name)!.shape).toEqual(t.shape);
          expect(bits(file.tensors.get(t.name)!.data)).toEqual(bits(t.data));
        }
        expect({ ...file.metadata }).toEqual({ ...metadata });
      }), { numRuns: 300 });
  });

  it('reads or rejects arbitrary bytes with a UserError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => readsOrRejects(bytes)), { numRuns: 2000 });
  });

  it('reads or rejects arbitrary headers with a UserError', () => {
    const int = fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constantFrom(2 ** 53, 2 ** 60, 1.5, NaN));
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL'), fc.string({ maxLength: 4 })),
      shape: fc.oneof(fc.array(int, { maxLength: 3 }), fc.jsonValue()),
      data_offsets: fc.oneof(fc.tuple(int, int), fc.array(int, { maxLength: 3 }), fc.jsonValue()),
    }, { requiredKeys: [] });
    const header = fc.dictionary(fc.oneof(fc.constantFrom('__proto__', '__metadata__', 'constructor', 'a'), fc.string({ maxLength: 5 })),
      fc.oneof(entry, fc.jsonValue()), { maxKeys: 4 });
    fc.assert(fc.property(header, fc.integer({ min: 0, max: 64 }), fc.boolean(), (h, dataLength, pad) => {
      readsOrRejects(craft(h, dataLength, pad));
      expect(({} as Record<string, unknown>).dtype).toBeUndefined();
    }), { numRuns: 3000 });
  });

  it('reads or rejects a valid file with any byte changed', () => {
    const good = encodeSafetensors(tensors, { k: 'v' });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(good.length), (edits, cut) => {
        const bytes = good.slice(0, cut === 0 ? good.length : cut); // 0: the whole file
        for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
        readsOrRejects(bytes);
      }), { numRuns: 3000 });
  });
});

