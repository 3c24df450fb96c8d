import { writeFileSync } from 'node:fs';

/** Writes a little-endian .npy file of float32 ('<f4') or float64 ('<f8') values. */
export function writeNpy(path: string, descr: '<f4' | '<f8', shape: number[], values: ArrayLike<number>): string {
  const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  const text = `${header}${' '.repeat(pad % 64)}\n`;
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(text.length, 8);
  const data = descr === '<f4' ? Buffer.from(new Float32Array(values).buffer) : Buffer.from(new Float64Array(values).buffer);
  writeFileSync(path, Buffer.concat([head, Buffer.from(text, 'latin1'), data]));
  return path;
}
