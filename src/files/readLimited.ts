// Input files are read with a byte limit, so `--lineart /dev/zero`, a FIFO or a 40 GB file given by
// mistake fails at once with a clear message instead of growing memory until the process dies.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export class InputTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly limit: number,
  ) {
    super(`${path} is larger than the input limit of ${limit} bytes`);
    this.name = 'InputTooLargeError';
  }
}

/** Default limit for one input image or JSON file (overridable per call and by INKFLOW_MAX_INPUT_BYTES). */
export function defaultInputByteLimit(): number {
  const env = Number(process.env.INKFLOW_MAX_INPUT_BYTES);
  return Number.isFinite(env) && env > 0 ? env : 256 * 1024 * 1024;
}

/** Reads a whole file, refusing anything longer than `limit` bytes (checked while reading, not only by stat). */
export function readFileLimited(path: string, limit = defaultInputByteLimit()): Buffer {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`${path} is a folder, not a file`), { code: 'EISDIR' });
    if (st.isFile() && st.size > limit) throw new InputTooLargeError(path, limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > limit) throw new InputTooLargeError(path, limit);
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
