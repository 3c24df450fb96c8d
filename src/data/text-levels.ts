/**
 * The texts of a column as UTF-8 bytes packed in shared chunks, not one JS
 * string per cell. `add` gives a text's id: the same id for the same bytes
 * while the column has had fewer than MAX_INTERNED distinct texts (a
 * categorical column: a few levels, each stored and decoded once), a new id
 * per text after that (ids, free text: its bytes, no string). A text longer
 * than a quarter chunk gets a chunk of its own size (or is kept where it was
 * read, when its reader gives it up), so one huge field costs its size once.
 */

/** distinct texts interned at most; past this each text keeps its own bytes */
export const MAX_INTERNED = 1 << 16;
const CHUNK_BYTES = 1 << 16;

/** FNV-1a over the bytes. */
function hash(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

export class TextLevels {
  private readonly chunks: Buffer[] = [];
  /** the chunk short texts are appended to, and how much of it is used */
  private open = -1;
  private used = CHUNK_BYTES;
  /** per id: its chunk, start and end */
  private where = new Int32Array(3 * 16);
  /** open addressing by hash: id + 1, 0 for an empty slot; null once interning has stopped */
  private slots: Int32Array | null = new Int32Array(16);
  private readonly decoded: string[] = [];
  count = 0;

  /** The id of the text b[start, end); `kept`: b may be kept as it is (no copy of a long text). */
  add(b: Uint8Array, start: number, end: number, kept = false): number {
    if (!this.slots) return this.append(b, start, end, kept);
    const mask = this.slots.length - 1;
    for (let s = hash(b, start, end) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s] - 1;
      if (id >= 0) {
        if (this.equals(id, b, start, end)) return id;
        continue;
      }
      const added = this.append(b, start, end, kept);
      this.slots[s] = added + 1;
      if (this.count >= MAX_INTERNED) this.slots = null;
      else if (this.count * 2 > this.slots.length) this.rehash(this.slots.length * 2);
      return added;
    }
  }

  /** The text of an id (decoded once for an interned one). */
  text(id: number): string {
    const cached = this.decoded[id];
    if (cached !== undefined) return cached;
    const w = 3 * id;
    const text = this.chunks[this.where[w]].toString('utf8', this.where[w + 1], this.where[w + 2]);
    if (id < MAX_INTERNED) this.decoded[id] = text;
    return text;
  }

  private append(b: Uint8Array, start: number, end: number, kept: boolean): number {
    const len = end - start;
    let chunk: number;
    let at = 0;
    if (len > CHUNK_BYTES >> 2) {
      const view = Buffer.from(b.buffer, b.byteOffset + start, len);
      chunk = this.chunks.push(kept ? view : Buffer.from(view)) - 1;
    } else {
      if (this.used + len > CHUNK_BYTES) {
        this.open = this.chunks.push(Buffer.allocUnsafe(CHUNK_BYTES)) - 1;
        this.used = 0;
      }
      const dest = this.chunks[this.open];
      at = this.used;
      for (let i = 0; i < len; i++) dest[at + i] = b[start + i];
      this.used += len;
      chunk = this.open;
    }
    const id = this.count++;
    if (3 * this.count > this.where.length) {
      const more = new Int32Array(this.where.length * 2);
      more.set(this.where);
      this.where = more;
    }
    this.where[3 * id] = chunk;
    this.where[3 * id + 1] = at;
    this.where[3 * id + 2] = at + len;
    return id;
  }

  private equals(id: number, b: Uint8Array, start: number, end: number): boolean {
    const w = 3 * id;
    const at = this.where[w + 1];
    if (this.where[w + 2] - at !== end - start) return false;
    const chunk = this.chunks[this.where[w]];
    for (let i = start; i < end; i++) if (chunk[at + i - start] !== b[i]) return false;
    return true;
  }

  private rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let id = 0; id < this.count; id++) {
      const w = 3 * id;
      const chunk = this.chunks[this.where[w]];
      let s = hash(chunk, this.where[w + 1], this.where[w + 2]) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = id + 1;
    }
    this.slots = slots;
  }
}
