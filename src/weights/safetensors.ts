/**
 * safetensors reader and writer (no dependency).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [start, end]}, "__metadata__": {string: string}}`
 * (padded with spaces), then the data section; offsets are relative to the data section.
 *
 * The reader opens a file descriptor, reads and validates only the header, and reads tensors on
 * demand with positioned reads, so a 5 GB checkpoint costs memory only for what is asked for.
 * Every problem with the file is a `SafetensorsError` that names the file (and the tensor). Unlike
 * the reference implementation we accept gaps and trailing bytes in the data section (harmless),
 * but never overlapping or out-of-bounds tensors.
 *
 * The writer lays data out like the reference (larger element sizes first so every tensor is
 * aligned, then by name), pads the header to a multiple of 8, and streams tensors one at a time.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { DTYPE_SIZE, ST_DTYPES, bytesToF32, isStDType, type StDType } from './dtype.ts';
import { extname } from 'node:path';
import { PICKLE_EXTENSIONS, pickleRefusalMessage, sniffFileKind } from './pickle_guard.ts';

/** The reference implementation's limit; real headers are well under 1 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(message: string, readonly file: string, readonly tensor?: string) {
    super(message);
  }
}

export interface TensorInfo {
  name: string;
  dtype: StDType;
  shape: number[];
  /** Absolute position of the first byte in the file (8 + header length + data_offsets[0]). */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsReader {
  /** File path, or the label given to `openSafetensorsBuffer`. */
  readonly path: string;
  /** All tensors, in file order (so iterating and reading walks the file forwards). */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The `__metadata__` entries ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  has(name: string): boolean;
  /** Throws a SafetensorsError listing similar names when the tensor is missing. */
  info(name: string): TensorInfo;
  /** The tensor's exact little-endian bytes, in a new array. */
  readRaw(name: string): Uint8Array;
  /** The tensor converted to float32 (any dtype), in a new array. */
  readF32(name: string): Float32Array;
  close(): void;
}

/** Reads `target.length` bytes at absolute `position`, or throws. */
type ReadAt = (position: number, target: Uint8Array) => void;

/** Opens a safetensors file; reads only its header now. Call `close()` when done. */
export function openSafetensors(path: string): SafetensorsReader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(`cannot open ${path}: ${(e as Error).message}`, path);
  }
  let closed = false;
  try {
    const size = fstatSync(fd).size;
    const readAt: ReadAt = (position, target) => {
      if (closed) throw new SafetensorsError(`${path}: reader is closed`, path);
      let done = 0;
      while (done < target.length) {
        const chunk = Math.min(target.length - done, 1 << 30); // readSync caps a single call at 2 GB
        let n: number;
        try {
          n = readSync(fd, target, done, chunk, position + done);
        } catch (e) {
          throw new SafetensorsError(`${path}: read failed at byte ${position + done}: ${(e as Error).message}`, path);
        }
        if (n === 0) throw new SafetensorsError(`${path}: unexpected end of file at byte ${position + done} (file changed or truncated?)`, path);
        done += n;
      }
    };
    const header = readHeader(path, size, readAt);
    return makeReader(path, header, readAt, () => {
      if (!closed) { closed = true; closeSync(fd); }
    });
  } catch (e) {
    closed = true;
    closeSync(fd);
    throw e;
  }
}

/** A reader over bytes already in memory (tests, small files, downloads). */
export function openSafetensorsBuffer(bytes: Uint8Array, label = '<buffer>'): SafetensorsReader {
  const readAt: ReadAt = (position, target) => {
    if (position + target.length > bytes.length) {
      throw new SafetensorsError(`${label}: read past end of buffer at byte ${position}`, label);
    }
    target.set(bytes.subarray(position, position + target.length));
  };
  return makeReader(label, readHeader(label, bytes.length, readAt), readAt, () => {});
}

interface ParsedHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

function readHeader(file: string, size: number, readAt: ReadAt): ParsedHeader {
  if (size < 8) throw new SafetensorsError(`${file} is ${size} bytes: too short for a safetensors file (needs an 8-byte header length)`, file);
  const head = new Uint8Array(Math.min(size, 16));
  readAt(0, head);
  const kind = sniffFileKind(head, size);
  if (kind === 'zip' || kind === 'pickle') throw new SafetensorsError(pickleRefusalMessage(file, kind), file);
  // Protocol-0/1 pickles have no magic number; a .ckpt that does not even look like safetensors is one.
  if (kind === 'unknown' && PICKLE_EXTENSIONS.includes(extname(file).toLowerCase())) {
    throw new SafetensorsError(pickleRefusalMessage(file, 'extension'), file);
  }
  const n = new DataView(head.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${file}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`, file);
  }
  const headerLen = Number(n);
  if (8 + headerLen > size) {
    throw new SafetensorsError(`${file}: header length ${headerLen} runs past the end of the ${size}-byte file (truncated, or not a safetensors file)`, file);
  }
  const bytes = new Uint8Array(headerLen);
  readAt(8, bytes);
  return parseSafetensorsHeader(bytes, size - 8 - headerLen, file);
}

/**
 * Parses and validates header JSON bytes against a data section of `dataLength` bytes.
 * Exported for tools that read headers from elsewhere (e.g. HTTP range requests).
 */
export function parseSafetensorsHeader(bytes: Uint8Array, dataLength: number, file: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(`${file}: header is not valid UTF-8`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${file}: header is not valid JSON (${(e as Error).message})`, file);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(`${file}: header JSON is ${describe(json)}, expected an object`, file);

  const dataStart = 8 + bytes.length;
  let metadata: Record<string, string> = {};
  const infos: TensorInfo[] = [];
  const starts = new Map<string, number>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) throw new SafetensorsError(`${file}: __metadata__ is ${describe(entry)}, expected an object of strings`, file);
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${file}: __metadata__.${k} is ${describe(v)}, expected a string`, file);
      }
      metadata = Object.fromEntries(Object.entries(entry)) as Record<string, string>; // keeps a "__proto__" key as data
      continue;
    }
    const fail = (what: string): never => { throw new SafetensorsError(`${file}: tensor "${name}": ${what}`, file, name); };
    if (!isPlainObject(entry)) fail(`entry is ${describe(entry)}, expected {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isStDType(dtype)) fail(`unknown dtype ${short(dtype)} (known: ${ST_DTYPES.join(', ')})`);
    const dt = dtype as StDType;
    if (!Array.isArray(shape) || !shape.every(isSafeNonNegativeInt)) fail(`shape ${short(shape)} is not a list of non-negative integers`);
    const dims = shape as number[];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSafeNonNegativeInt)) {
      fail(`data_offsets ${short(offsets)} is not [start, end] with non-negative integers`);
    }
    const [start, end] = offsets as [number, number];
    if (end < start) fail(`data_offsets [${start}, ${end}] end before start`);
    let numel = 1;
    for (const d of dims) numel *= d;
    const expected = numel * DTYPE_SIZE[dt];
    if (!Number.isSafeInteger(expected)) fail(`shape [${dims.join(', ')}] is too large`);
    if (expected !== end - start) {
      fail(`${dt} [${dims.join(', ')}] needs ${expected} bytes but data_offsets [${start}, ${end}] span ${end - start}`);
    }
    if (end > dataLength) {
      fail(`data_offsets [${start}, ${end}] run past the ${dataLength}-byte data section (file truncated?)`);
    }
    starts.set(name, start);
    infos.push({ name, dtype: dt, shape: dims.slice(), byteOffset: dataStart + start, byteLength: end - start });
  }

  // File order; empty tensors cannot overlap anything.
  infos.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let prev: TensorInfo | undefined;
  for (const t of infos) {
    if (t.byteLength === 0) continue;
    if (prev && t.byteOffset < prev.byteOffset + prev.byteLength) {
      const span = (x: TensorInfo) => `[${starts.get(x.name)}, ${starts.get(x.name)! + x.byteLength}]`;
      throw new SafetensorsError(`${file}: tensors "${prev.name}" ${span(prev)} and "${t.name}" ${span(t)} overlap`, file, t.name);
    }
    prev = t;
  }
  return { tensors: new Map(infos.map((t) => [t.name, t])), metadata };
}

function makeReader(path: string, header: ParsedHeader, readAt: ReadAt, close: () => void): SafetensorsReader {
  const { tensors, metadata } = header;
  const info = (name: string): TensorInfo => {
    const t = tensors.get(name);
    if (!t) throw new SafetensorsError(missingTensorMessage(path, name, [...tensors.keys()]), path, name);
    return t;
  };
  return {
    path, tensors, metadata,
    has: (name) => tensors.has(name),
    info,
    readRaw(name) {
      const t = info(name);
      const out = new Uint8Array(t.byteLength);
      readAt(t.byteOffset, out);
      return out;
    },
    readF32(name) {
      const t = info(name);
      if (t.dtype === 'F32') {
        // Read straight into the result: no second copy for the common case.
        const out = new Float32Array(t.byteLength / 4);
        readAt(t.byteOffset, new Uint8Array(out.buffer));
        return out;
      }
      const raw = new Uint8Array(t.byteLength);
      readAt(t.byteOffset, raw);
      return bytesToF32(t.dtype, raw);
    },
    close,
  };
}

function missingTensorMessage(file: string, name: string, names: string[]): string {
  const similar = similarNames(name, names, 3);
  return `no tensor "${name}" in ${file} (has ${names.length} tensors` +
    (similar.length ? `; similar: ${similar.map((s) => `"${s}"`).join(', ')})` : ')');
}

/** Up to `k` names closest by edit distance, only those reasonably close. */
function similarNames(name: string, names: string[], k: number): string[] {
  const limit = Math.max(3, Math.floor(name.length / 2));
  // The length difference bounds the distance from below: skipping far lengths keeps this cheap
  // even for hostile headers with huge names.
  const scored = names.filter((n) => Math.abs(n.length - name.length) <= limit).map((n) => ({ n, d: editDistance(name, n) }));
  scored.sort((a, b) => a.d - b.d || (a.n < b.n ? -1 : 1));
  return scored.filter((s) => s.d <= limit).slice(0, k).map((s) => s.n);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isSafeNonNegativeInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return `a ${typeof x}`;
}

/** A short printable form of a header value; never throws (deeply nested JSON overflows JSON.stringify). */
function short(x: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = describe(x);
  }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

// ---------------------------------------------------------------------------------------------
// Writer

/** Raw element bytes: a Uint8Array or any typed array / DataView (its bytes are written as they are). */
export type TensorBytes = ArrayBufferView;

export interface TensorToWrite {
  name: string;
  dtype: StDType;
  shape: readonly number[];
  /** The data, or a function producing it when its turn comes (so only one tensor is in memory). */
  data: TensorBytes | (() => TensorBytes | Promise<TensorBytes>);
}

/**
 * Writes a safetensors file. With an array (or other sync iterable) the header is built from the
 * entries first and data is produced and written one tensor at a time; give `data` as a function
 * to avoid holding all tensors in memory. With an async iterable, entries arrive in any order, so
 * their data is spooled to a temporary file beside `path` and copied into place in order.
 * The file is written to `<path>.partial` and renamed, so a crash never leaves a half file.
 */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<TensorToWrite> | AsyncIterable<TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  const partial = `${path}.partial`;
  try {
    if (Symbol.asyncIterator in tensors) await writeFromAsync(path, partial, tensors, metadata);
    else await writeFromList(path, partial, [...tensors], metadata);
    await rename(partial, path);
  } catch (e) {
    await unlink(partial).catch(() => {});
    throw e;
  }
}

interface Planned { spec: TensorToWrite; byteLength: number; start: number }

/** Validates entries and assigns data offsets: element size descending, then name. */
function plan(file: string, specs: TensorToWrite[]): Planned[] {
  const seen = new Set<string>();
  const out: Planned[] = specs.map((spec) => {
    const { name, dtype, shape } = spec;
    const fail = (what: string): never => { throw new SafetensorsError(`writing ${file}: tensor "${name}": ${what}`, file, name); };
    if (typeof name !== 'string') fail('name must be a string');
    if (name === '__metadata__') fail('"__metadata__" is reserved');
    if (seen.has(name)) fail('duplicate name');
    seen.add(name);
    if (!isStDType(dtype)) fail(`unknown dtype ${short(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isSafeNonNegativeInt)) fail(`shape ${short(shape)} is not a list of non-negative integers`);
    const byteLength = shape.reduce((a, d) => a * d, 1) * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(byteLength)) fail('shape is too large');
    return { spec, byteLength, start: 0 };
  });
  out.sort((a, b) => DTYPE_SIZE[b.spec.dtype] - DTYPE_SIZE[a.spec.dtype] || (a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0));
  let offset = 0;
  for (const p of out) { p.start = offset; offset += p.byteLength; }
  return out;
}

/** Header bytes including the 8-byte length, padded with spaces to a multiple of 8. */
function encodeHeader(file: string, planned: Planned[], metadata?: Record<string, string>): Uint8Array {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`writing ${file}: metadata "${k}" must be a string, got ${describe(v)}`, file);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  for (const p of planned) {
    const entry = { dtype: p.spec.dtype, shape: p.spec.shape, data_offsets: [p.start, p.start + p.byteLength] };
    parts.push(`${JSON.stringify(p.spec.name)}:${JSON.stringify(entry)}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

async function resolveBytes(file: string, p: { spec: TensorToWrite; byteLength: number }): Promise<Uint8Array> {
  const { data } = p.spec;
  const view = typeof data === 'function' ? await data() : data;
  if (!ArrayBuffer.isView(view)) {
    throw new SafetensorsError(`writing ${file}: tensor "${p.spec.name}": data is ${describe(view)}, expected a typed array`, file, p.spec.name);
  }
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (bytes.byteLength !== p.byteLength) {
    throw new SafetensorsError(
      `writing ${file}: tensor "${p.spec.name}": ${p.spec.dtype} [${p.spec.shape.join(', ')}] needs ${p.byteLength} bytes, ` +
      `data has ${bytes.byteLength} (data is written as raw element bytes; convert first, e.g. f32ToF16Array)`, file, p.spec.name);
  }
  return bytes;
}

type Handle = Awaited<ReturnType<typeof open>>;

async function writeAll(h: Handle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await h.write(bytes, done, Math.min(bytes.length - done, 1 << 30), position + done);
    done += bytesWritten;
  }
}

async function writeFromList(path: string, partial: string, specs: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const planned = plan(path, specs);
  const header = encodeHeader(path, planned, metadata);
  const h = await open(partial, 'w');
  try {
    await writeAll(h, header, 0);
    for (const p of planned) await writeAll(h, await resolveBytes(path, p), header.length + p.start);
  } finally {
    await h.close();
  }
}

async function writeFromAsync(path: string, partial: string, tensors: AsyncIterable<TensorToWrite>, metadata?: Record<string, string>): Promise<void> {
  const spoolPath = `${path}.spool.partial`;
  const spool = await open(spoolPath, 'w+');
  try {
    // Spool each tensor's bytes in arrival order, keeping only descriptors in memory.
    const specs: TensorToWrite[] = [];
    const spoolAt = new Map<string, number>();
    let end = 0;
    for await (const t of tensors) {
      const [p] = plan(path, [t]);
      if (spoolAt.has(t.name)) throw new SafetensorsError(`writing ${path}: tensor "${t.name}": duplicate name`, path, t.name);
      await writeAll(spool, await resolveBytes(path, p), end);
      spoolAt.set(t.name, end);
      specs.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: new Uint8Array(0) });
      end += p.byteLength;
    }
    const planned = plan(path, specs);
    const header = encodeHeader(path, planned, metadata);
    const h = await open(partial, 'w');
    try {
      await writeAll(h, header, 0);
      const chunk = new Uint8Array(Math.min(16 << 20, Math.max(1, end)));
      for (const p of planned) {
        const from = spoolAt.get(p.spec.name)!;
        for (let done = 0; done < p.byteLength;) {
          const want = Math.min(chunk.length, p.byteLength - done);
          const { bytesRead } = await spool.read(chunk, 0, want, from + done);
          if (bytesRead === 0) throw new SafetensorsError(`writing ${path}: spool file ended early`, path, p.spec.name);
          await writeAll(h, chunk.subarray(0, bytesRead), header.length + p.start + done);
          done += bytesRead;
        }
      }
    } finally {
      await h.close();
    }
  } finally {
    await spool.close();
    await unlink(spoolPath).catch(() => {});
  }
}
