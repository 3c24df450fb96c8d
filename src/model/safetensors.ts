/**
 * Hugging Face's safetensors format, read and written without dependencies.
 *
 *   [8 bytes]  N, the header's length, little-endian u64
 *   [N bytes]  UTF-8 JSON: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {string: string} }
 *              (padded with spaces to a multiple of 8)
 *   [rest]     the tensors' bytes, little-endian, row-major; offsets are relative to
 *              the first byte after the header; tensors cover the data area exactly
 *              (contiguous, no gaps, no overlap)
 *
 * Reading treats the file as hostile: every size and offset in the header is
 * checked against the file before anything is allocated from it, and decoded
 * names go into a Map / null-prototype objects, so `__proto__` is just a name.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import type { ParameterLayout } from './layout.js';
import type { ParameterStore } from './parameters.js';
import type { ModelSpec } from './spec.js';

/** Parameters to save: a ParameterStore, or a Model (every parameter, flat, in layout order). */
export interface ParameterSource {
  spec: ModelSpec;
  layout: ParameterLayout;
  data: Float32Array;
}

/** Largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Bytes per element of every dtype the format defines; only some can be decoded. */
const DTYPE_SIZES: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  U16: 2, I16: 2, F16: 2, BF16: 2,
  U32: 4, I32: 4, F32: 4,
  U64: 8, I64: 8, F64: 8,
});

/** The dtypes readSafetensors converts to float32 (F32 exactly; the others rounded). */
export const SUPPORTED_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;
export type SupportedDtype = (typeof SUPPORTED_DTYPES)[number];

/** One tensor to write: float32 values, row-major, `shape`'s product of them. */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** One tensor as the header describes it. */
export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data area */
  dataOffsets: [number, number];
}

/** A validated header: every tensor's description, the metadata, and where the data is. */
export interface SafetensorsHeader {
  source: string;
  /** In the file's data order. */
  tensors: Map<string, TensorInfo>;
  /** `__metadata__` (a null-prototype object; empty when absent). */
  metadata: Record<string, string>;
  /** Byte offset of the data area in the file (8 + header length). */
  dataStart: number;
  dataLength: number;
}

/** One decoded tensor, converted to float32. */
export interface DecodedTensor {
  /** The dtype stored in the file. */
  dtype: SupportedDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  source: string;
  tensors: Map<string, DecodedTensor>;
  metadata: Record<string, string>;
}

/** What checkAgainstLayout compares: a header or a decoded file alike. */
export interface TensorListing {
  tensors: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------
// Writing

/** The whole file as bytes: header (space-padded to a multiple of 8) then the tensors in the given order. */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) {
    const meta: Record<string, string> = Object.create(null);
    for (const key of Object.keys(metadata)) {
      const value = metadata[key];
      if (typeof value !== 'string') throw new TypeError(`safetensors metadata ${JSON.stringify(key)}: values must be strings, got ${typeof value}`);
      meta[key] = value;
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name === '' || t.name === '__metadata__') {
      throw new TypeError(`safetensors: invalid tensor name ${JSON.stringify(t.name)}`);
    }
    if (Object.prototype.hasOwnProperty.call(header, t.name)) throw new TypeError(`safetensors: tensor ${JSON.stringify(t.name)} given twice`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`safetensors: tensor ${t.name} has an invalid shape ${shapeText(t.shape)}`);
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new TypeError(`safetensors: tensor ${t.name} has ${t.data.length} values, shape ${shapeText(t.shape)} needs ${elementCount(t.shape)}`);
    }
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const t of tensors) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + i * 4, t.data[i], true);
    }
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Writes `path` atomically: a temporary file in the same directory, fsync,
 * rename over `path`, then fsync of the directory (best effort).
 */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------
// Reading

const LITTLE_ENDIAN = endianness() === 'LE';

/** Random access to the input: a file (read on demand) or bytes in memory. */
interface ByteSource {
  source: string;
  size: number;
  read(position: number, length: number): Uint8Array;
  close(): void;
}

function openBytes(input: string | Uint8Array, source?: string): ByteSource {
  if (typeof input !== 'string') {
    return {
      source: source ?? 'safetensors data',
      size: input.byteLength,
      read: (position, length) => input.subarray(position, position + length),
      close: () => {},
    };
  }
  const name = source ?? input;
  let fd: number;
  let size: number;
  try {
    fd = openSync(input, 'r');
  } catch (e) {
    throw new UserError(`${name}: cannot open safetensors file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UserError(`${name}: not a regular file`);
    size = stat.size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    source: name,
    size,
    read(position, length) {
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, out, got, length - got, position + got);
        if (n === 0) throw new UserError(`${name}: file shrank while being read (expected ${length} bytes at ${position})`);
        got += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

function parseHeader(src: ByteSource, maxHeaderBytes: number): SafetensorsHeader {
  const fail: (what: string) => never = (what) => {
    throw new UserError(`${src.source}: not a valid safetensors file: ${what}`);
  };
  if (src.size < 8) fail(`${src.size} bytes, too short for the 8-byte header length`);
  const n = new DataView(src.read(0, 8).slice().buffer).getBigUint64(0, true);
  if (n > BigInt(src.size - 8)) fail(`header length ${n} is beyond the end of the file (${src.size} bytes)`);
  if (n > BigInt(maxHeaderBytes)) fail(`header length ${n} exceeds the ${maxHeaderBytes}-byte limit`);
  const headerLength = Number(n);
  if (headerLength < 2) fail(`header length ${headerLength} is too short for a JSON object`);
  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, headerLength));
    parsed = JSON.parse(text);
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) fail('header is not a JSON object');
  const header = parsed as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const dataLength = src.size - dataStart;

  let metadata: Record<string, string> = Object.create(null);
  const tensors = new Map<string, TensorInfo>();
  for (const name of Object.keys(header)) {
    const value = header[name];
    if (name === '__metadata__') {
      if (!isPlainObject(value)) fail('__metadata__ is not an object of strings');
      metadata = Object.create(null);
      for (const key of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[key];
        if (typeof v !== 'string') fail(`__metadata__ ${JSON.stringify(key)} is ${JSON.stringify(v)}, not a string`);
        metadata[key] = v as string;
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(value)) fail(`${where}: entry is not an object`);
    const entry = value as Record<string, unknown>;
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') fail(`${where}: dtype ${JSON.stringify(dtype)} is not a string`);
    const itemSize = DTYPE_SIZES[dtype as string];
    if (itemSize === undefined) fail(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.length > 64 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    let bytes = (shape as number[]).includes(0) ? 0 : itemSize;
    for (const d of bytes === 0 ? [] : shape as number[]) {
      bytes *= d;
      if (bytes > dataLength) fail(`${where}: shape ${shapeText(shape as number[])} of ${dtype} needs more bytes than the file's data area holds (${dataLength})`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] go beyond the data area (${dataLength} bytes)`);
    if (end - begin !== bytes) {
      fail(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape ${shapeText(shape as number[])} of ${dtype} needs ${bytes}`);
    }
    tensors.set(name, { dtype: dtype as string, shape: [...(shape as number[])], dataOffsets: [begin, end] });
  }

  // The tensors must tile the data area: sorted by offset, each begins where the previous ended.
  const ordered = [...tensors.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]
    || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let cursor = 0;
  let previous = '';
  for (const [name, info] of ordered) {
    const [begin, end] = info.dataOffsets;
    if (begin < cursor) fail(`tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] overlap tensor ${JSON.stringify(previous)}`);
    if (begin > cursor) fail(`tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] leave a gap after byte ${cursor}`);
    cursor = end;
    previous = name;
  }
  if (cursor !== dataLength) fail(`the tensors cover ${cursor} bytes of data, the file has ${dataLength}`);
  return { source: src.source, tensors: new Map(ordered), metadata, dataStart, dataLength };
}

export interface ReadOptions {
  /** Name used in error messages (default: the path, or "safetensors data"). */
  source?: string;
  /** Largest header accepted, in bytes (default 100 MB). */
  maxHeaderBytes?: number;
}

/** Reads and validates only the header (the data area is not read). */
export function readSafetensorsHeader(input: string | Uint8Array, options: ReadOptions = {}): SafetensorsHeader {
  const src = openBytes(input, options.source);
  try {
    return parseHeader(src, options.maxHeaderBytes ?? MAX_HEADER_BYTES);
  } finally {
    src.close();
  }
}

/**
 * Reads a whole file (a path, or its bytes), converting every tensor to float32.
 * A tensor of a dtype other than F32, F16, BF16 or F64 is an error naming it.
 */
export function readSafetensors(input: string | Uint8Array, options: ReadOptions = {}): SafetensorsFile {
  return readChecked(input, options, () => {});
}

/** Parses the header, lets `check` inspect it, then reads and decodes the data. */
function readChecked(input: string | Uint8Array, options: ReadOptions,
  check: (header: SafetensorsHeader) => void): SafetensorsFile {
  const src = openBytes(input, options.source);
  try {
    const header = parseHeader(src, options.maxHeaderBytes ?? MAX_HEADER_BYTES);
    check(header);
    for (const [name, info] of header.tensors) {
      if (!(SUPPORTED_DTYPES as readonly string[]).includes(info.dtype)) {
        throw new UserError(`${src.source}: tensor ${name} has dtype ${info.dtype}; supported: ${SUPPORTED_DTYPES.join(', ')}`);
      }
    }
    const data = src.read(header.dataStart, header.dataLength);
    const tensors = new Map<string, DecodedTensor>();
    for (const [name, info] of header.tensors) {
      const [begin, end] = info.dataOffsets;
      tensors.set(name, {
        dtype: info.dtype as SupportedDtype,
        shape: info.shape,
        data: decode(info.dtype as SupportedDtype, data.subarray(begin, end)),
      });
    }
    return { source: src.source, tensors, metadata: header.metadata };
  } finally {
    src.close();
  }
}

/** Little-endian bytes of one dtype → float32 values (the byte count was checked against the shape). */
function decode(dtype: SupportedDtype, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer);
      const out = new Float32Array(bytes.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(bytes.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case 'BF16': {
      const bits = new Uint32Array(bytes.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const out = new Float32Array(bytes.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// ---------------------------------------------------------------------------
// Checking against a model

/**
 * Throws a UserError naming each tensor that does not match the model's layout:
 * missing, extra, of another shape, or of a dtype that cannot be read.
 */
export function checkAgainstLayout(file: TensorListing, entries: readonly { name: string; shape: readonly number[] }[],
  source: string): void {
  const problems: string[] = [];
  const expected = new Set(entries.map((e) => e.name));
  for (const e of entries) {
    const t = file.tensors.get(e.name);
    if (!t) {
      problems.push(`missing tensor ${e.name} ${shapeText(e.shape)}`);
      continue;
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      problems.push(`tensor ${e.name} has shape ${shapeText(t.shape)}, the model needs ${shapeText(e.shape)}`);
    }
    if (!(SUPPORTED_DTYPES as readonly string[]).includes(t.dtype)) {
      problems.push(`tensor ${e.name} has dtype ${t.dtype}; supported: ${SUPPORTED_DTYPES.join(', ')}`);
    }
  }
  for (const [name, t] of file.tensors) {
    if (!expected.has(name)) problems.push(`extra tensor ${name} ${shapeText(t.shape)} is not in the model`);
  }
  if (problems.length === 0) return;
  const shown = problems.slice(0, 8).join('; ');
  const more = problems.length > 8 ? `; and ${problems.length - 8} more` : '';
  throw new UserError(`${source}: the weights do not match the model: ${shown}${more}`);
}

/**
 * Saves the parameters under their PyTorch names, in layout order. The metadata
 * gets `format: "pt"` and `multitask.model` (the model spec as JSON) unless given.
 */
export function saveParameters(path: string, store: ParameterSource, metadata?: Record<string, string>): void {
  const tensors = store.layout.entries.map((e) => ({ name: e.name, shape: e.shape, data: store.data.subarray(e.offset, e.offset + e.size) }));
  writeSafetensors(path, tensors, {
    format: 'pt',
    'multitask.model': JSON.stringify(store.spec),
    ...metadata,
  });
}

/**
 * Loads a safetensors file into the parameters after checking it names exactly
 * the model's tensors with the model's shapes. Returns the file's metadata.
 */
export function loadParametersFile(path: string, store: ParameterStore): Record<string, string> {
  const file = readChecked(path, {}, (header) => checkAgainstLayout(header, store.layout.entries, path));
  const named: Record<string, Float32Array> = Object.create(null);
  for (const [name, t] of file.tensors) named[name] = t.data;
  store.load(named, path);
  return file.metadata;
}
