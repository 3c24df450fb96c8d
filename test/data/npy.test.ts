import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDataset } from '../../src/data/dataset-from-table.js';
import { datasetFromNpy, parseNpyHeaderDict, readNpy, readNpyHeader } from '../../src/data/npy.js';
import { tableFromRecords } from '../../src/data/table.js';
import { userErrorMessage as message } from '../helpers/user-error.js';

// ---------------------------------------------------------------- a small .npy writer for the fixtures

interface NpySpec {
  descr: string;
  shape: number[];
  /** Values in the file's order (row-major, or column-major when fortran). */
  values?: number[];
  fortran?: boolean;
  version?: 1 | 2 | 3;
  /** Replaces the header dict text. */
  header?: string;
  /** Replaces the data bytes. */
  data?: Uint8Array;
  magic?: number[];
}

const tupleText = (shape: number[]) => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

/** The bytes numpy.save would write (header padded with spaces to a multiple of 64, ended by '\n'). */
function npyBytes(s: NpySpec): Buffer {
  const version = s.version ?? 1;
  const dict = s.header ?? `{'descr': '${s.descr}', 'fortran_order': ${s.fortran ? 'True' : 'False'}, 'shape': ${tupleText(s.shape)}, }`;
  const pre = version === 1 ? 10 : 12;
  let header = Buffer.from(dict, version === 3 ? 'utf8' : 'latin1');
  const total = pre + header.length + 1;
  const pad = (64 - (total % 64)) % 64;
  header = Buffer.concat([header, Buffer.alloc(pad, 0x20), Buffer.from('\n')]);
  const preamble = Buffer.alloc(pre);
  Buffer.from(s.magic ?? [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]).copy(preamble);
  preamble[6] = version;
  preamble[7] = 0;
  if (version === 1) preamble.writeUInt16LE(header.length, 8);
  else preamble.writeUInt32LE(header.length, 8);
  return Buffer.concat([preamble, header, Buffer.from(s.data ?? encode(s.descr, s.values ?? []))]);
}

function encode(descr: string, values: number[]): Uint8Array {
  const le = descr[0] !== '>';
  const kind = descr.slice(1);
  const size = Number(kind.slice(1));
  const buf = new Uint8Array(values.length * size);
  const v = new DataView(buf.buffer);
  values.forEach((x, k) => {
    const o = k * size;
    switch (kind) {
      case 'f2': v.setUint16(o, floatToHalf(x), le); break;
      case 'f4': v.setFloat32(o, x, le); break;
      case 'f8': v.setFloat64(o, x, le); break;
      case 'i1': v.setInt8(o, x); break;
      case 'i2': v.setInt16(o, x, le); break;
      case 'i4': v.setInt32(o, x, le); break;
      case 'i8': v.setBigInt64(o, BigInt(x), le); break;
      case 'u1': case 'b1': v.setUint8(o, x); break;
      case 'u2': v.setUint16(o, x, le); break;
      case 'u4': v.setUint32(o, x, le); break;
      case 'u8': v.setBigUint64(o, BigInt(x), le); break;
      default: throw new Error(`test writer: no dtype ${descr}`);
    }
  });
  return buf;
}

/** Exact for the small values used here (normal halves with ≤ 10 fraction bits). */
function floatToHalf(x: number): number {
  if (x === 0) return 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  const frac = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | frac;
}

const dir = mkdtempSync(join(tmpdir(), 'multitask-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
function file(spec: NpySpec | Buffer, name?: string): string {
  const path = join(dir, name ?? `a${counter++}.npy`);
  writeFileSync(path, Buffer.isBuffer(spec) ? spec : npyBytes(spec));
  return path;
}


// ---------------------------------------------------------------- readNpy

describe('readNpy', () => {
  const cases: [string, number[]][] = [
    ['f2', [0, 1, -2, 0.5, 1024, -0.375]],
    ['f4', [0, 1.5, -2.25, 2 ** 34, -0.125, 7]],
    ['f8', [0, 0.1, -2.5, 1e300, -1e-300, Math.PI]],
    ['i1', [0, 1, -1, 127, -128, 5]],
    ['i2', [0, 300, -300, 32767, -32768, 5]],
    ['i4', [0, 70000, -70000, 2147483647, -2147483648, 5]],
    ['i8', [0, 2 ** 40, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53), 5]],
    ['u1', [0, 1, 2, 200, 255, 5]],
    ['u2', [0, 1, 2, 60000, 65535, 5]],
    ['u4', [0, 1, 2, 4e9, 4294967295, 5]],
    ['u8', [0, 1, 2, 2 ** 50, 2 ** 53, 5]],
    ['b1', [0, 1, 1, 0, 1, 0]],
  ];
  for (const [kind, values] of cases) {
    const orders = kind.endsWith('1') ? ['|', '<', '>'] : ['<', '>'];
    for (const order of orders) {
      it(`reads ${order}${kind} as float64 exactly and as float32 rounded`, () => {
        const path = file({ descr: `${order}${kind}`, shape: [2, 3], values });
        const a64 = readNpy(path, 'float64');
        expect(a64).toMatchObject({ dtype: `${order}${kind}`, shape: [2, 3], fortranOrder: false });
        expect(a64.data).toBeInstanceOf(Float64Array);
        expect(Array.from(a64.data)).toEqual(values);
        const a32 = readNpy(path);
        expect(a32.data).toBeInstanceOf(Float32Array);
        expect(Array.from(a32.data)).toEqual(values.map(Math.fround));
      });
    }
  }

  it('reads big-endian data with the byte order converted (not just the same bytes)', () => {
    const le = file({ descr: '<f4', shape: [3], values: [1, -2, 0.25] });
    const be = file({ descr: '>f4', shape: [3], values: [1, -2, 0.25] });
    expect(Array.from(readNpy(be).data)).toEqual(Array.from(readNpy(le).data));
    // the raw bytes differ: reading the big-endian bytes as little-endian would not give 1
    expect(new DataView(encode('>f4', [1]).buffer).getFloat32(0, true)).not.toBe(1);
  });

  it('reads half-float specials', () => {
    const path = file({ descr: '<f2', shape: [4], data: new Uint8Array(new Uint16Array([0x7c00, 0xfc00, 0x7e00, 0x0001]).buffer) });
    const d = readNpy(path, 'float64').data;
    expect(d[0]).toBe(Infinity);
    expect(d[1]).toBe(-Infinity);
    expect(d[2]).toBeNaN();
    expect(d[3]).toBe(2 ** -24);
  });

  it('reads format versions 1.0, 2.0 and 3.0', () => {
    for (const version of [1, 2, 3] as const) {
      const path = file({ descr: '<f8', shape: [2, 2], values: [1, 2, 3, 4], version });
      expect(readNpyHeader(path)).toMatchObject({ version: `${version}.0`, dtype: '<f8', shape: [2, 2], itemSize: 8 });
      expect(readNpyHeader(path).dataOffset % 64).toBe(0);
      expect(Array.from(readNpy(path).data)).toEqual([1, 2, 3, 4]);
    }
  });

  it('transposes fortran_order arrays to row-major', () => {
    // [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6
    const path = file({ descr: '<i4', shape: [2, 3], values: [1, 4, 2, 5, 3, 6], fortran: true });
    const a = readNpy(path);
    expect(a).toMatchObject({ shape: [2, 3], fortranOrder: true });
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);

    // 3-D: element (i, j, k) = 100i + 10j + k, shape (2, 3, 4)
    const shape = [2, 3, 4];
    const fortranValues: number[] = [];
    for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) fortranValues.push(100 * i + 10 * j + k);
    const cValues: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) cValues.push(100 * i + 10 * j + k);
    const p3 = file({ descr: '>f8', shape, values: fortranValues, fortran: true });
    expect(Array.from(readNpy(p3).data)).toEqual(cValues);
    // 1-D fortran arrays are the same either way
    expect(Array.from(readNpy(file({ descr: '<u1', shape: [3], values: [7, 8, 9], fortran: true })).data)).toEqual([7, 8, 9]);
  });

  it('reads scalars and empty arrays', () => {
    expect(Array.from(readNpy(file({ descr: '<f8', shape: [], values: [2.5] })).data)).toEqual([2.5]);
    const empty = readNpy(file({ descr: '<f4', shape: [0, 3], values: [] }));
    expect(empty.shape).toEqual([0, 3]);
    expect(empty.data.length).toBe(0);
  });

  it('rejects a file that does not start with the magic bytes', () => {
    const path = file({ descr: '<f4', shape: [1], values: [1], magic: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x5a] });
    expect(message(() => readNpy(path))).toBe(
      `${path}: not a NumPy .npy file (it does not start with the magic bytes \\x93NUMPY; save arrays with numpy.save)`);
    const csv = file(Buffer.from('a,b\n1,2\n'), 'x.csv');
    expect(message(() => readNpy(csv))).toContain(`${csv}: not a NumPy .npy file`);
    const tiny = file(Buffer.from([0x93, 0x4e]));
    expect(message(() => readNpy(tiny))).toContain('only 2 bytes');
  });

  it('rejects unsupported format versions', () => {
    const bytes = npyBytes({ descr: '<f4', shape: [1], values: [1] });
    bytes[6] = 4;
    expect(message(() => readNpy(file(bytes)))).toMatch(/format version 4\.0 is not supported \(supported: 1\.0, 2\.0, 3\.0\)$/);
    bytes[6] = 1; bytes[7] = 1;
    expect(message(() => readNpy(file(bytes)))).toContain('version 1.1 is not supported');
  });

  it('rejects a truncated file (data shorter than the shape claims)', () => {
    const full = npyBytes({ descr: '<f8', shape: [4, 2], values: [1, 2, 3, 4, 5, 6, 7, 8] });
    const path = file(full.subarray(0, full.length - 5));
    expect(message(() => readNpy(path))).toBe(
      `${path}: shape (4, 2) of <f8 needs 64 bytes of data, but the file has 59 after the header (truncated; a damaged or not-a-numpy file?)`);
    // cut inside the header
    const cut = file(full.subarray(0, 40));
    expect(message(() => readNpy(cut))).toMatch(/truncated \.npy file \(the header claims 118 bytes but the file has only 30/);
  });

  it('rejects extra bytes after the data (header/size mismatch)', () => {
    const path = file({ descr: '<i2', shape: [3], values: [1, 2, 3, 4] });
    expect(message(() => readNpy(path))).toContain('shape (3,) of <i2 needs 6 bytes of data, but the file has 8 after the header (extra bytes');
  });

  it('rejects a huge claimed shape before allocating anything', () => {
    // 2^40 float32s would be 4 TiB: allocating it would throw a RangeError, not a UserError
    const huge = file({ descr: '<f4', shape: [2 ** 20, 2 ** 20], values: [1, 2] });
    expect(message(() => readNpy(huge))).toContain('shape (1048576, 1048576) of <f4 needs 4398046511104 bytes of data, but the file has 8');
    const absurd = file({ descr: '<f8', shape: [999999999999999, 999999999999999, 999999999999999], values: [] });
    expect(message(() => readNpy(absurd))).toContain('needs more bytes than any file holds');
    const longHeader = npyBytes({ descr: '<f4', shape: [1], values: [1], version: 2 });
    longHeader.writeUInt32LE(0xfffffff0, 8);
    expect(message(() => readNpy(file(longHeader)))).toContain('header length 4294967280 is too large');
  });

  it('rejects dtypes it cannot read, naming the file', () => {
    for (const [descr, why] of [
      ['<c8', 'is not supported'], ['<f16', 'is not supported'], ['|f4', "no byte order ('|') but 4-byte items"],
      ['=f4', "native byte order ('=')"], ['<U5', 'is not supported'], ['O', 'is not supported'],
    ]) {
      const path = file({ descr, shape: [1], data: new Uint8Array(0), header: `{'descr': '${descr}', 'fortran_order': False, 'shape': (0,), }` });
      const m = message(() => readNpy(path));
      expect(m.startsWith(`${path}: dtype "${descr}"`)).toBe(true);
      expect(m).toContain(why);
    }
  });

  it('rejects headers that are not the expected dict literal', () => {
    const bad: [string, string][] = [
      ['descr=<f4', 'expected "{" at character 1'],
      ["{'descr': '<f4', 'fortran_order': False}", "missing 'shape'"],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 'expected a string, True, False or a tuple'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 'x'}", 'unexpected "extra"'],
      ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 'key "descr" appears twice'],
      ["{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 'expected a string, True, False or a tuple'],
      ["{'descr': '<f4', 'fortran_order': 'False', 'shape': (1,)}", "'fortran_order' must be True or False"],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", '(1) is not a tuple'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 'expected a non-negative integer'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 'a list is not allowed here'],
      ["{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 'structured dtypes'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", 'unexpected text after the closing "}"'],
      ["{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 'expected "," or "}" at character 18'],
      ["{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", 'expected ":" at character 10'],
      ["{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}", 'expected a string, True, False or a tuple'],
    ];
    for (const [header, why] of bad) {
      const path = file({ descr: '<f4', shape: [1], values: [1], header });
      const m = message(() => readNpy(path));
      expect(m.startsWith(`${path}: the .npy header is not the expected dictionary`)).toBe(true);
      expect(m).toContain(why);
    }
  });

  it('parses the dict literals numpy writes (quotes, spacing, old long suffixes, trailing comma)', () => {
    expect(parseNpyHeaderDict(`{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }      \n`, 'x')).toEqual(
      { descr: '<f8', fortranOrder: false, shape: [3, 4] });
    expect(parseNpyHeaderDict(`{"shape":(3L,4L),"fortran_order":True,"descr":">i8"}`, 'x')).toEqual(
      { descr: '>i8', fortranOrder: true, shape: [3, 4] });
    expect(parseNpyHeaderDict(`{'descr': '|b1', 'fortran_order': False, 'shape': (), }`, 'x').shape).toEqual([]);
  });

  it('names a missing file', () => {
    const path = join(dir, 'nope.npy');
    expect(message(() => readNpy(path))).toBe(`cannot read .npy file ${path}: no such file`);
    expect(message(() => readNpy(dir))).toBe(`cannot read .npy file ${dir}: it is a directory`);
  });
});

// ---------------------------------------------------------------- datasetFromNpy

describe('datasetFromNpy', () => {
  // 8 rows × 2 inputs; a 3-class task, a binary task with a missing label, a regression task with a missing label
  const X = [[1, 10], [2, 20], [3, 15], [4, 5], [5, 25], [6, 30], [7, 12], [8, 40]];
  const kind = [0, 1, 2, 0, 1, 2, 0, 1];
  const flag = [0, 1, NaN, 1, 0, 1, 0, 1];
  const mass = [1.5, 2.25, NaN, 4, 3.5, 10, -1, 0.75];
  const xPath = file({ descr: '<f8', shape: [8, 2], values: X.flat() }, 'x.npy');
  const kindPath = file({ descr: '<i8', shape: [8], values: kind }, 'kind.npy');
  const flagPath = file({ descr: '>f4', shape: [8, 1], values: flag }, 'flag.npy');
  const massPath = file({ descr: '<f4', shape: [8], values: mass }, 'mass.npy');
  const opts = {
    features: xPath,
    targets: {
      kind: { path: kindPath, loss: 'cross_entropy' as const },
      flag: { path: flagPath, loss: 'bce_with_logits' as const },
      mass: { path: massPath, loss: 'mse' as const },
    },
    seed: 3,
    validationFraction: 0.25,
  };

  it('builds the same Dataset as the CSV/JSON path on the same values', () => {
    const ds = datasetFromNpy(opts);
    const table = tableFromRecords('same', X.map((x, r) => ({
      x0: x[0], x1: x[1], kind: kind[r], flag: Number.isNaN(flag[r]) ? null : flag[r], mass: Number.isNaN(mass[r]) ? null : mass[r],
    })));
    const ref = buildDataset(table, {
      tasks: [
        { name: 'kind', column: 'kind', loss: 'cross_entropy' },
        { name: 'flag', column: 'flag', loss: 'bce_with_logits' },
        { name: 'mass', column: 'mass', loss: 'mse' },
      ],
      seed: 3, validationFraction: 0.25,
    });
    expect(ds.source).toBe(xPath);
    expect(ds.rows).toBe(8);
    expect(ds.inputWidth).toBe(2);
    expect(ds.encoding.names).toEqual(['x0', 'x1']);
    expect(ds.features.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(ds.features)).toEqual(Array.from(ref.features));
    expect(Array.from(ds.encoding.mean)).toEqual(Array.from(ref.encoding.mean));
    expect(Array.from(ds.encoding.std)).toEqual(Array.from(ref.encoding.std));
    expect(Array.from(ds.train)).toEqual(Array.from(ref.train));
    expect(Array.from(ds.validation)).toEqual(Array.from(ref.validation));
    for (let t = 0; t < 3; t++) {
      const a = ds.tasks[t], b = ref.tasks[t];
      expect({ ...a, targets: undefined, column: undefined }).toEqual({ ...b, targets: undefined, column: undefined });
      expect(Array.from(a.targets)).toEqual(Array.from(b.targets));
    }
    expect(ds.tasks.map((t) => t.column)).toEqual([kindPath, flagPath, massPath]);
    expect(ds.tasks[0]).toMatchObject({ outputs: 3, classes: ['0', '1', '2'], labelled: 8 });
    expect(ds.tasks[1]).toMatchObject({ outputs: 1, classes: ['0', '1'], labelled: 7 });
    expect(ds.tasks[2].labelled).toBe(7);
    expect(ds.tasks[2].targetMean).toBeDefined();
  });

  it('maps class indices to the given class names', () => {
    const ds = datasetFromNpy({ ...opts, targets: { kind: { path: kindPath, loss: 'cross_entropy', classes: ['cat', 'dog', 'eel'] } } });
    expect(ds.tasks[0].classes).toEqual(['cat', 'dog', 'eel']);
    expect(Array.from(ds.tasks[0].targets)).toEqual(kind);
    // declared classes may outnumber those present
    const four = datasetFromNpy({ ...opts, targets: { kind: { path: kindPath, loss: 'cross_entropy', classes: ['a', 'b', 'c', 'd'] } } });
    expect(four.tasks[0].outputs).toBe(4);
  });

  it('gives the same dataset from fortran-order and big-endian feature files', () => {
    const colMajor = [0, 1].flatMap((c) => X.map((x) => x[c]));
    const fPath = file({ descr: '>f8', shape: [8, 2], values: colMajor, fortran: true });
    const a = datasetFromNpy(opts), b = datasetFromNpy({ ...opts, features: fPath });
    expect(Array.from(b.features)).toEqual(Array.from(a.features));
  });

  it('drops rows with a NaN feature (like a missing CSV value) and keeps the targets aligned', () => {
    const xs = X.flat();
    xs[2 * 2 + 1] = NaN; // row 2
    const p = file({ descr: '<f4', shape: [8, 2], values: xs });
    const ds = datasetFromNpy({ ...opts, features: p, validationFraction: 0 });
    expect(ds.rows).toBe(7);
    expect(ds.droppedRows).toBe(1);
    expect(Array.from(ds.tasks[0].targets)).toEqual([0, 1, 0, 1, 2, 0, 1]);
    const inf = X.flat();
    inf[5] = Infinity;
    const q = file({ descr: '<f8', shape: [8, 2], values: inf });
    expect(message(() => datasetFromNpy({ ...opts, features: q }))).toBe(
      `${q}[2, 1]: Infinity is not a finite number (features must be finite; NaN marks a missing value)`);
  });

  it('rejects a target file whose rows do not match, naming both files and counts', () => {
    const short = file({ descr: '<i4', shape: [7], values: kind.slice(0, 7) });
    expect(message(() => datasetFromNpy({ ...opts, targets: { kind: { path: short, loss: 'cross_entropy' } } }))).toBe(
      `${short} (task "kind") has 7 rows but ${xPath} has 8 (one target per feature row, in the same order)`);
    const wide = file({ descr: '<i4', shape: [8, 2], values: [...kind, ...kind] });
    expect(message(() => datasetFromNpy({ ...opts, targets: { kind: { path: wide, loss: 'cross_entropy' } } }))).toContain(
      'targets must have shape (rows,) or (rows, 1), got (8, 2)');
  });

  it('rejects class indices outside 0..k−1 as unknown classes', () => {
    const three = file({ descr: '<i2', shape: [8], values: [0, 1, 3, 0, 1, 2, 0, 1] });
    expect(message(() => datasetFromNpy({ ...opts, targets: { kind: { path: three, loss: 'cross_entropy', classes: ['a', 'b', 'c'] } } }))).toBe(
      `${three}[2] (task "kind", cross_entropy): unknown class 3 (expected a class index 0..2 for a, b, c; NaN marks a missing label)`);
    const two = file({ descr: '<u1', shape: [8], values: [0, 1, 2, 0, 1, 1, 0, 1] });
    expect(message(() => datasetFromNpy({ ...opts, targets: { f: { path: two, loss: 'bce_with_logits' } } }))).toContain(
      `${two}[2] (task "f", bce_with_logits): unknown class 2 (expected a class index 0..1`);
    const frac = file({ descr: '<f8', shape: [8], values: [0, 1, 0.5, 0, 1, 1, 0, 1] });
    expect(message(() => datasetFromNpy({ ...opts, targets: { k: { path: frac, loss: 'cross_entropy' } } }))).toContain(
      `${frac}[2] (task "k", cross_entropy): unknown class 0.5 (expected a class index 0, 1, 2, ...`);
    const neg = file({ descr: '<i1', shape: [8], values: [0, 1, -1, 0, 1, 1, 0, 1] });
    expect(message(() => datasetFromNpy({ ...opts, targets: { k: { path: neg, loss: 'cross_entropy' } } }))).toContain('unknown class -1');
    const zeros = file({ descr: '<i1', shape: [8], values: new Array(8).fill(0) });
    expect(message(() => datasetFromNpy({ ...opts, targets: { k: { path: zeros, loss: 'cross_entropy' } } }))).toContain('only class index 0 occurs');
  });

  it('rejects features that are not 2-D and bad regression values', () => {
    const oneD = file({ descr: '<f4', shape: [8], values: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(message(() => datasetFromNpy({ ...opts, features: oneD }))).toBe(
      `${oneD}: features must be a 2-D array (rows × inputs), got shape (8,) (for a single input, save x.reshape(-1, 1))`);
    const infY = file({ descr: '<f8', shape: [8], values: [1, 2, -Infinity, 4, 5, 6, 7, 8] });
    expect(message(() => datasetFromNpy({ ...opts, targets: { m: { path: infY, loss: 'mse' } } }))).toBe(
      `${infY}[2] (task "m"): -Infinity is not a finite number (NaN marks a missing label)`);
    const allNaN = file({ descr: '<f8', shape: [8], values: new Array(8).fill(NaN) });
    expect(message(() => datasetFromNpy({ ...opts, targets: { m: { path: allNaN, loss: 'mse' } } }))).toContain(
      `file ${allNaN} (task "m", mse): no row has a label`);
    expect(message(() => datasetFromNpy({ ...opts, targets: {} }))).toContain('no target files given');
    expect(message(() => datasetFromNpy({ ...opts, featureNames: ['a'] }))).toContain('1 feature names given for 2 inputs');
    expect(datasetFromNpy({ ...opts, featureNames: ['len', 'width'] }).encoding.names).toEqual(['len', 'width']);
  });
});
