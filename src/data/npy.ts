/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), for users coming from
 * Python: `np.save("x.npy", X)` for the features, one file per task for the targets.
 *
 * Layout (numpy/lib/format.py): the magic `\x93NUMPY`, a major and a minor version
 * byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), the
 * header — a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }` padded with spaces
 * and ended by a newline (latin-1 in 1.x/2.x, UTF-8 in 3.0) — then the raw data.
 *
 * Supported dtypes: float (`f2 f4 f8`), signed (`i1 i2 i4 i8`) and unsigned (`u1 u2 u4
 * u8`) integers and booleans (`b1`), in either byte order: big-endian (`>f4`, written by
 * `arr.astype('>f4')` or on big-endian machines) is read correctly, converting the byte
 * order. Values are converted to float32 (or float64 on request); 64-bit integers beyond
 * 2^53 lose precision. `fortran_order: True` arrays are transposed to row-major (C)
 * order, so `data` is always row-major for `shape`.
 *
 * Security: the magic, the version, the header length (at most 64 KiB and inside the
 * file) and the header itself are checked, and the data size claimed by shape × item
 * size must equal the bytes left in the file, all before anything of that size is
 * allocated; the header dict is parsed by a small strict parser, never evaluated.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { LossKind } from '../kernels/types.js';
import { UserError } from '../util/errors.js';
import type { Dataset } from './dataset.js';
import { type FeatureInput, type LabelInput, datasetFromColumns } from './dataset-from-columns.js';
import { type SplitOptions, checkSplitOptions } from './split.js';
import { type TaskSpec, checkTaskSpec, isBinary, isClassification } from './task-spec.js';

export interface NpyHeader {
  /** Format version, e.g. `1.0`. */
  version: string;
  /** The dtype as written, e.g. `<f4`, `>i8`, `|b1`. */
  dtype: string;
  shape: number[];
  /** True when the file stores the array in column-major (Fortran) order. */
  fortranOrder: boolean;
  /** Byte offset of the data in the file. */
  dataOffset: number;
  /** Bytes per element. */
  itemSize: number;
}

export interface NpyArray<T extends Float32Array | Float64Array = Float32Array> {
  dtype: string;
  shape: number[];
  /** The file's order; `data` is row-major (C order) either way. */
  fortranOrder: boolean;
  /** Every element converted to float, row-major, length = product of shape. */
  data: T;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Largest header accepted (numpy writes about 128 bytes). */
export const NPY_MAX_HEADER_BYTES = 65536;
/** Most elements one array may have (the limit of a typed array here). */
const MAX_ELEMENTS = 2 ** 32 - 1;
const CHUNK_BYTES = 1 << 24;

type Kind = 'f' | 'i' | 'u' | 'b';
interface Dtype { kind: Kind; size: number; little: boolean }

/** Reads a .npy file; elements converted to float32, row-major. */
export function readNpy(path: string): NpyArray<Float32Array>;
/** Reads a .npy file; elements converted to float64, row-major. */
export function readNpy(path: string, as: 'float64'): NpyArray<Float64Array>;
export function readNpy(path: string, as: 'float32' | 'float64'): NpyArray<Float32Array> | NpyArray<Float64Array>;
export function readNpy(path: string, as: 'float32' | 'float64' = 'float32'): NpyArray<Float32Array> | NpyArray<Float64Array> {
  return withFile(path, (fd, size) => {
    const header = readHeaderFd(fd, size, path);
    const dt = parseDtype(header.dtype, path);
    const count = header.itemSize === 0 ? 0 : (size - header.dataOffset) / header.itemSize;
    const raw = as === 'float64' ? new Float64Array(count) : new Float32Array(count);
    decodeData(fd, header.dataOffset, count, dt, raw, path);
    const data = header.fortranOrder && header.shape.length > 1 ? fortranToC(raw, header.shape) : raw;
    return { dtype: header.dtype, shape: header.shape, fortranOrder: header.fortranOrder, data } as NpyArray<Float32Array> | NpyArray<Float64Array>;
  });
}

/** Reads and checks only the header of a .npy file (including the data size against the file size). */
export function readNpyHeader(path: string): NpyHeader {
  return withFile(path, (fd, size) => readHeaderFd(fd, size, path));
}

/**
 * Parses the header dict text of a .npy file (`{'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), }`) with a strict parser: exactly those three keys, a string, a
 * boolean and a tuple of non-negative integers. Anything else is a UserError naming `source`.
 */
export function parseNpyHeaderDict(text: string, source: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const p = new DictParser(text, source);
  return p.parse();
}

// ---------------------------------------------------------------- file access

function withFile<T>(path: string, f: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    throw new UserError(`cannot read .npy file ${path}: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UserError(`cannot read .npy file ${path}: it is a directory`);
    return f(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, length: number, position: number, path: string): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw new UserError(`${path}: the file ended early (it changed while being read?)`);
    got += n;
  }
  return buf;
}

function readHeaderFd(fd: number, size: number, path: string): NpyHeader {
  const notNpy = `${path}: not a NumPy .npy file`;
  if (size < 10) throw new UserError(`${notNpy} (only ${size} bytes; a .npy file starts with a header of at least 10 bytes)`);
  const pre = readExactly(fd, Math.min(size, 12), 0, path);
  for (let i = 0; i < MAGIC.length; i++) {
    if (pre[i] !== MAGIC[i]) {
      throw new UserError(`${notNpy} (it does not start with the magic bytes \\x93NUMPY; save arrays with numpy.save)`);
    }
  }
  const major = pre[6], minor = pre[7];
  const version = `${major}.${minor}`;
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new UserError(`${path}: .npy format version ${version} is not supported (supported: 1.0, 2.0, 3.0)`);
  }
  let headerLen: number, start: number;
  if (major === 1) {
    headerLen = pre[8] | (pre[9] << 8);
    start = 10;
  } else {
    if (size < 12) throw new UserError(`${path}: truncated .npy file (${size} bytes, the version ${version} preamble needs 12)`);
    headerLen = (pre[8] | (pre[9] << 8) | (pre[10] << 16)) + pre[11] * 0x1000000;
    start = 12;
  }
  if (headerLen > NPY_MAX_HEADER_BYTES) {
    throw new UserError(`${path}: .npy header length ${headerLen} is too large (at most ${NPY_MAX_HEADER_BYTES} bytes; a corrupt file?)`);
  }
  if (start + headerLen > size) {
    throw new UserError(`${path}: truncated .npy file (the header claims ${headerLen} bytes but the file has only ${size - start} after the preamble)`);
  }
  const raw = readExactly(fd, headerLen, start, path);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new UserError(`${path}: the .npy header is not valid UTF-8 (format 3.0 headers are UTF-8)`);
    }
  } else {
    text = Buffer.from(raw).toString('latin1');
  }
  const dict = parseNpyHeaderDict(text, path);
  const dt = parseDtype(dict.descr, path);
  const dataOffset = start + headerLen;

  // the claimed data size, checked against the file before anything is allocated
  let count = 1;
  for (const d of dict.shape) count *= d;
  const shapeText = `(${dict.shape.join(', ')}${dict.shape.length === 1 ? ',' : ''})`;
  const have = size - dataOffset;
  const need = count * dt.size;
  if (!Number.isSafeInteger(need) || need !== have) {
    const needText = Number.isSafeInteger(need) ? `${need} bytes` : 'more bytes than any file holds';
    throw new UserError(
      `${path}: shape ${shapeText} of ${dict.descr} needs ${needText} of data, but the file has ${have} after the header ` +
      `(${have < need ? 'truncated' : 'extra bytes'}; a damaged or not-a-numpy file?)`);
  }
  if (count > MAX_ELEMENTS) {
    throw new UserError(`${path}: shape ${shapeText} has ${count} elements, more than can be loaded here (at most ${MAX_ELEMENTS})`);
  }
  return { version, dtype: dict.descr, shape: dict.shape, fortranOrder: dict.fortranOrder, dataOffset, itemSize: dt.size };
}

// ---------------------------------------------------------------- dtypes and data

const SIZES: Record<Kind, readonly number[]> = { f: [2, 4, 8], i: [1, 2, 4, 8], u: [1, 2, 4, 8], b: [1] };

function parseDtype(descr: string, path: string): Dtype {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  const supported = 'float (f2, f4, f8), integer (i1..i8, u1..u8) or bool (b1), little- (<) or big-endian (>)';
  if (!m) throw new UserError(`${path}: dtype ${JSON.stringify(descr)} is not supported (expected ${supported})`);
  const order = m[1], kind = m[2] as Kind, size = Number(m[3]);
  if (!SIZES[kind].includes(size)) throw new UserError(`${path}: dtype ${JSON.stringify(descr)} is not supported (expected ${supported})`);
  if (order === '=') {
    throw new UserError(`${path}: dtype ${JSON.stringify(descr)} has native byte order ('='), which numpy never writes to a file; expected '<' or '>'`);
  }
  if (order === '|' && size > 1) {
    throw new UserError(`${path}: dtype ${JSON.stringify(descr)} has no byte order ('|') but ${size}-byte items; expected '<' or '>'`);
  }
  return { kind, size, little: order !== '>' };
}

/** Reads count items of dtype dt at `offset` into out (file order), in chunks. */
function decodeData(fd: number, offset: number, count: number, dt: Dtype, out: Float32Array | Float64Array, path: string): void {
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / dt.size));
  const buf = new Uint8Array(Math.min(count, perChunk) * dt.size);
  const view = new DataView(buf.buffer);
  const le = dt.little;
  for (let first = 0; first < count; first += perChunk) {
    const n = Math.min(perChunk, count - first);
    const bytes = n * dt.size;
    let got = 0;
    while (got < bytes) {
      const r = readSync(fd, buf, got, bytes - got, offset + first * dt.size + got);
      if (r === 0) throw new UserError(`${path}: the file ended early (it changed while being read?)`);
      got += r;
    }
    let o = first;
    switch (`${dt.kind}${dt.size}`) {
      case 'f2': for (let k = 0; k < n; k++) out[o++] = halfToFloat(view.getUint16(k * 2, le)); break;
      case 'f4': for (let k = 0; k < n; k++) out[o++] = view.getFloat32(k * 4, le); break;
      case 'f8': for (let k = 0; k < n; k++) out[o++] = view.getFloat64(k * 8, le); break;
      case 'i1': for (let k = 0; k < n; k++) out[o++] = view.getInt8(k); break;
      case 'i2': for (let k = 0; k < n; k++) out[o++] = view.getInt16(k * 2, le); break;
      case 'i4': for (let k = 0; k < n; k++) out[o++] = view.getInt32(k * 4, le); break;
      case 'i8': for (let k = 0; k < n; k++) out[o++] = Number(view.getBigInt64(k * 8, le)); break;
      case 'u1': for (let k = 0; k < n; k++) out[o++] = buf[k]; break;
      case 'u2': for (let k = 0; k < n; k++) out[o++] = view.getUint16(k * 2, le); break;
      case 'u4': for (let k = 0; k < n; k++) out[o++] = view.getUint32(k * 4, le); break;
      case 'u8': for (let k = 0; k < n; k++) out[o++] = Number(view.getBigUint64(k * 8, le)); break;
      case 'b1': for (let k = 0; k < n; k++) out[o++] = buf[k] !== 0 ? 1 : 0; break;
      default: throw new Error(`unreachable dtype ${dt.kind}${dt.size}`);
    }
  }
}

/** IEEE 754 binary16 → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Column-major (first axis fastest) → row-major (last axis fastest), any rank. */
function fortranToC<T extends Float32Array | Float64Array>(src: T, shape: number[]): T {
  const out = new (src.constructor as { new(n: number): T })(src.length);
  const nd = shape.length;
  const cStride = new Array<number>(nd);
  let s = 1;
  for (let a = nd - 1; a >= 0; a--) { cStride[a] = s; s *= shape[a]; }
  const idx = new Array<number>(nd).fill(0);
  let c = 0; // row-major offset of idx
  for (let j = 0; j < src.length; j++) {
    out[c] = src[j];
    // advance idx in Fortran order (axis 0 fastest), keeping c in step
    for (let a = 0; a < nd; a++) {
      idx[a]++;
      c += cStride[a];
      if (idx[a] < shape[a]) break;
      c -= cStride[a] * shape[a];
      idx[a] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- header dict parser

class DictParser {
  private i = 0;
  constructor(private readonly text: string, private readonly source: string) {}

  parse(): { descr: string; fortranOrder: boolean; shape: number[] } {
    const values = new Map<string, string | boolean | number[]>();
    this.ws();
    this.expect('{');
    for (;;) {
      this.ws();
      if (this.peek() === '}') { this.i++; break; }
      const key = this.string();
      if (values.has(key)) this.fail(`key ${JSON.stringify(key)} appears twice`);
      this.ws();
      this.expect(':');
      this.ws();
      values.set(key, this.value(key));
      this.ws();
      const c = this.peek();
      if (c === ',') { this.i++; continue; }
      if (c === '}') { this.i++; break; }
      this.fail(`expected "," or "}"`);
    }
    // numpy pads with spaces and ends with a newline
    if (!/^[ \t\r\n\0]*$/.test(this.text.slice(this.i))) this.fail('unexpected text after the closing "}"');

    const keys = [...values.keys()];
    const expected = ['descr', 'fortran_order', 'shape'];
    const missing = expected.filter((k) => !values.has(k));
    const extra = keys.filter((k) => !expected.includes(k));
    if (missing.length || extra.length) {
      this.fail(`expected exactly the keys 'descr', 'fortran_order' and 'shape'` +
        (missing.length ? `; missing ${missing.map((k) => `'${k}'`).join(', ')}` : '') +
        (extra.length ? `; unexpected ${extra.map((k) => JSON.stringify(k)).join(', ')}` : ''), false);
    }
    const descr = values.get('descr'), fortran = values.get('fortran_order'), shape = values.get('shape');
    if (typeof descr !== 'string') this.fail(`'descr' must be a string such as '<f4'`, false);
    if (typeof fortran !== 'boolean') this.fail(`'fortran_order' must be True or False`, false);
    if (!Array.isArray(shape)) this.fail(`'shape' must be a tuple of integers such as (150, 4)`, false);
    return { descr: descr as string, fortranOrder: fortran as boolean, shape: shape as number[] };
  }

  private value(key: string): string | boolean | number[] {
    const c = this.peek();
    if (c === "'" || c === '"') return this.string();
    if (c === '(') return this.tuple();
    if (c === '[') {
      this.fail(key === 'descr'
        ? 'structured dtypes (a list descr) are not supported; save a plain numeric array'
        : 'a list is not allowed here');
    }
    for (const [word, v] of [['True', true], ['False', false]] as const) {
      if (this.text.startsWith(word, this.i) && !/[A-Za-z0-9_]/.test(this.text[this.i + word.length] ?? '')) {
        this.i += word.length;
        return v;
      }
    }
    this.fail('expected a string, True, False or a tuple');
  }

  private tuple(): number[] {
    this.expect('(');
    const out: number[] = [];
    let trailingComma = false;
    for (;;) {
      this.ws();
      if (this.peek() === ')') { this.i++; break; }
      const m = /^(\d+)L?/.exec(this.text.slice(this.i, this.i + 40));
      if (!m) this.fail('expected a non-negative integer in the shape tuple');
      if (m[1].length > 15) this.fail(`dimension ${m[1]} is too large`);
      out.push(Number(m[1]));
      this.i += m[0].length;
      this.ws();
      const c = this.peek();
      if (c === ',') { this.i++; trailingComma = true; continue; }
      trailingComma = false;
      if (c === ')') { this.i++; break; }
      this.fail('expected "," or ")" in the shape tuple');
    }
    if (out.length === 1 && !trailingComma) this.fail(`(${out[0]}) is not a tuple (a 1-tuple is written (${out[0]},))`);
    return out;
  }

  private string(): string {
    const q = this.peek();
    if (q !== "'" && q !== '"') this.fail('expected a quoted string');
    let out = '';
    this.i++;
    for (;;) {
      if (this.i >= this.text.length) this.fail('unterminated string');
      const c = this.text[this.i++];
      if (c === q) return out;
      if (c === '\n') this.fail('unterminated string');
      if (c === '\\') {
        const e = this.text[this.i++];
        if (e === '\\' || e === "'" || e === '"') out += e;
        else this.fail(`unsupported escape \\${e ?? ''} in a string`);
      } else {
        out += c;
      }
    }
  }

  private ws(): void {
    while (this.i < this.text.length && ' \t\r\n'.includes(this.text[this.i])) this.i++;
  }

  private peek(): string | undefined {
    return this.text[this.i];
  }

  private expect(c: string): void {
    if (this.text[this.i] !== c) this.fail(`expected "${c}"`);
    this.i++;
  }

  private fail(why: string, at = true): never {
    const shown = this.text.replace(/[ \n\0]+$/, '');
    throw new UserError(
      `${this.source}: the .npy header is not the expected dictionary ` +
      `({'descr': '<f4', 'fortran_order': False, 'shape': (rows, columns), }): ${why}` +
      `${at ? ` at character ${this.i + 1}` : ''}; header: ${JSON.stringify(shown.length > 120 ? shown.slice(0, 120) + '…' : shown)}`);
  }
}

// ---------------------------------------------------------------- datasets

/** One task's target file. */
export interface NpyTarget {
  /** A .npy file of shape (rows,) or (rows, 1). */
  path: string;
  loss: LossKind;
  /**
   * Classification: the class names, in index order. The file holds class indices
   * 0..k−1 (integers; NaN = missing in float files). Default: `0`..`k−1`, with k = 2
   * for bce/bce_with_logits and the largest index + 1 for cross_entropy.
   */
  classes?: string[];
}

export interface NpyDatasetOptions extends SplitOptions {
  /** A .npy file of shape (rows, inputs): every value numeric; a row with a NaN is dropped (as a missing CSV value). */
  features: string;
  /** Task name → its target file; tasks in key order. */
  targets: Record<string, NpyTarget>;
  /** Names of the inputs (default `x0`, `x1`, ...). */
  featureNames?: string[];
}

/**
 * A Dataset from a .npy feature matrix and one .npy target file per task. Features are
 * standardized and targets encoded exactly as for CSV data (training rows only,
 * regression targets standardized, NaN = missing label).
 */
export function datasetFromNpy(opts: NpyDatasetOptions): Dataset {
  const split = checkSplitOptions(opts);
  const fpath = opts.features;
  if (typeof fpath !== 'string' || fpath === '') throw new UserError('npy dataset: no features file given');
  const targetEntries = Object.entries(opts.targets ?? {});
  if (targetEntries.length === 0) throw new UserError(`${fpath}: no target files given (at least one task is needed)`);
  const specs: TaskSpec[] = targetEntries.map(([name, t]) => {
    const spec: TaskSpec = { name, column: t.path, loss: t.loss };
    if (t.classes !== undefined) spec.classes = t.classes.slice();
    checkTaskSpec(spec, `target ${JSON.stringify(name)} (${t.path})`);
    return spec;
  });

  // ---- features
  const fx = readNpyHeader(fpath);
  const exactIn32 = (dtype: string) => /^[<>|](f2|f4|i1|i2|u1|u2|b1)$/.test(dtype);
  const X = exactIn32(fx.dtype) ? readNpy(fpath) : readNpy(fpath, 'float64');
  if (X.shape.length !== 2) {
    throw new UserError(
      `${fpath}: features must be a 2-D array (rows × inputs), got shape (${X.shape.join(', ')}${X.shape.length === 1 ? ',' : ''})` +
      (X.shape.length === 1 ? ' (for a single input, save x.reshape(-1, 1))' : ''));
  }
  const [rows, width] = X.shape;
  if (rows === 0) throw new UserError(`${fpath}: no rows (shape (0, ${width}))`);
  if (width === 0) throw new UserError(`${fpath}: no inputs (shape (${rows}, 0))`);
  const names = opts.featureNames ?? Array.from({ length: width }, (_, c) => `x${c}`);
  if (names.length !== width) {
    throw new UserError(`${fpath}: ${names.length} feature names given for ${width} inputs`);
  }
  const kept: number[] = [];
  for (let r = 0; r < rows; r++) {
    let nan = false;
    for (let c = 0; c < width; c++) {
      const v = X.data[r * width + c];
      if (Number.isNaN(v)) nan = true;
      else if (!Number.isFinite(v)) throw new UserError(`${fpath}[${r}, ${c}]: ${v} is not a finite number (features must be finite; NaN marks a missing value)`);
    }
    if (!nan) kept.push(r);
  }
  if (kept.length === 0) throw new UserError(`${fpath}: every one of the ${rows} rows has a NaN feature, so none is left`);
  let matrix: ArrayLike<number> = X.data;
  if (kept.length < rows) {
    const m = new (X.data.constructor as { new(n: number): Float32Array | Float64Array })(kept.length * width);
    kept.forEach((r, i) => m.set(X.data.subarray(r * width, (r + 1) * width), i * width));
    matrix = m;
  }
  const features: FeatureInput[] = names.map((name, c) => ({ name, kind: 'numeric', values: matrix, offset: c, stride: width }));

  // ---- targets
  const tasks: LabelInput[] = specs.map((spec) => {
    const path = spec.column;
    const Y = readNpy(path, 'float64');
    const shapeText = `(${Y.shape.join(', ')}${Y.shape.length === 1 ? ',' : ''})`;
    if (Y.shape.length === 0 || Y.shape.length > 2 || (Y.shape.length === 2 && Y.shape[1] !== 1)) {
      throw new UserError(`${path} (task ${JSON.stringify(spec.name)}): targets must have shape (rows,) or (rows, 1), got ${shapeText}`);
    }
    if (Y.shape[0] !== rows) {
      throw new UserError(
        `${path} (task ${JSON.stringify(spec.name)}) has ${Y.shape[0]} rows but ${fpath} has ${rows} ` +
        `(one target per feature row, in the same order)`);
    }
    const y = Y.data;
    const where = (i: number) => `${path}[${kept[i]}]`;
    const base = { spec, what: `file ${path}`, where };
    if (!isClassification(spec.loss)) {
      for (const r of kept) {
        if (!Number.isNaN(y[r]) && !Number.isFinite(y[r])) {
          throw new UserError(`${path}[${r}] (task ${JSON.stringify(spec.name)}): ${y[r]} is not a finite number (NaN marks a missing label)`);
        }
      }
      return { ...base, label: (i: number) => (Number.isNaN(y[kept[i]]) ? null : y[kept[i]]) };
    }
    // class indices → class names, so the shared encoder sees them as labels
    let classes = spec.classes;
    const bad = (r: number, k: number | undefined) => new UserError(
      `${path}[${r}] (task ${JSON.stringify(spec.name)}, ${spec.loss}): unknown class ${y[r]} ` +
      `(expected a class index ${k === undefined ? '0, 1, 2, ...' : `0..${k - 1}`}${classes ? ` for ${classes.join(', ')}` : ''}; NaN marks a missing label)`);
    const isIndex = (v: number) => Number.isInteger(v) && v >= 0;
    if (!classes) {
      let k: number;
      if (isBinary(spec.loss)) {
        k = 2;
      } else {
        let max = -1;
        for (const r of kept) {
          const v = y[r];
          if (Number.isNaN(v)) continue;
          if (!isIndex(v) || v >= MAX_ELEMENTS) throw bad(r, undefined);
          if (v > max) max = v;
        }
        k = max + 1;
        if (k === 1) {
          throw new UserError(
            `${path} (task ${JSON.stringify(spec.name)}, cross_entropy): only class index 0 occurs; classification needs at least 2 classes ` +
            `(give the class names to declare more)`);
        }
      }
      classes = Array.from({ length: k }, (_, c) => String(c));
    }
    const k = classes.length;
    for (const r of kept) {
      const v = y[r];
      if (!Number.isNaN(v) && !(isIndex(v) && v < k)) throw bad(r, k);
    }
    const names = classes;
    return {
      ...base,
      spec: { ...spec, classes: names.slice() },
      label: (i: number) => (Number.isNaN(y[kept[i]]) ? null : names[y[kept[i]]]),
    };
  });

  return datasetFromColumns({
    source: fpath,
    rows: kept.length,
    features,
    tasks,
    droppedRows: rows - kept.length,
  }, { validationFraction: split.fraction, seed: split.seed });
}
