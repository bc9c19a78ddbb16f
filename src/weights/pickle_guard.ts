/**
 * Refuses PyTorch pickle checkpoints (.ckpt/.pt/.pth/.bin/.pkl).
 *
 * Unpickling runs code named inside the file, so a downloaded checkpoint can execute anything.
 * inkflow reads only safetensors; loaders call `assertNotPickle` first so a user who points at a
 * .ckpt learns why it is refused and how to convert it, instead of seeing a parse error.
 * Detection uses both the extension and the first bytes: a torch zip archive starts with "PK\x03\x04",
 * a raw pickle (legacy torch.save, protocol 2–5) with 0x80 and the protocol number.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename, extname } from 'node:path';

export const PICKLE_EXTENSIONS: readonly string[] = ['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle'];

export class PickleCheckpointError extends Error {
  override name = 'PickleCheckpointError';
  constructor(message: string, readonly file: string) {
    super(message);
  }
}

export type FileKind = 'zip' | 'pickle' | 'safetensors' | 'unknown';

/**
 * Judges a file by its first bytes (at least 9 for a safetensors verdict) and its total size.
 * A safetensors header length whose low bytes happen to read as 0x80 0x02 (e.g. 640) is not
 * mistaken for a pickle because the JSON '{' follows the 8-byte length.
 */
export function sniffFileKind(head: Uint8Array, fileSize: number): FileKind {
  if (head.length >= 9) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n > 0n && n <= BigInt(Math.max(0, fileSize - 8)) && head[8] === 0x7b) return 'safetensors';
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'pickle';
  return 'unknown';
}

/** The explanation shown to users for a pickle checkpoint. */
export function pickleRefusalMessage(file: string, kind: 'zip' | 'pickle' | 'extension'): string {
  const what = kind === 'zip' ? 'a PyTorch checkpoint (zip archive holding a pickle)'
    : kind === 'pickle' ? 'a Python pickle (legacy torch.save format)'
    : `a PyTorch pickle checkpoint (by its extension ${extname(file)})`;
  const out = basename(file).replace(/\.[^.]*$/, '') + '.safetensors';
  return `${file} is ${what}. inkflow refuses pickle checkpoints: loading a pickle can execute arbitrary ` +
    `code hidden in the file. Use a .safetensors version of the model (most models publish one), or convert ` +
    `this file once, if you trust it, with Python: ` +
    `python -c "import torch; from safetensors.torch import save_file; ` +
    `sd = torch.load('${basename(file)}', map_location='cpu', weights_only=True); sd = sd.get('state_dict', sd); ` +
    `save_file({k: v.contiguous() for k, v in sd.items() if isinstance(v, torch.Tensor)}, '${out}')"`;
}

/**
 * Throws PickleCheckpointError if `path` is a pickle checkpoint, judged by content when the file
 * exists (a renamed safetensors file passes) and by extension otherwise. Other files pass: the
 * safetensors reader reports anything else.
 */
export function assertNotPickle(path: string): void {
  const byExtension = PICKLE_EXTENSIONS.includes(extname(path).toLowerCase());
  if (!existsSync(path)) {
    if (byExtension) throw new PickleCheckpointError(pickleRefusalMessage(path, 'extension'), path);
    return;
  }
  const head = new Uint8Array(16);
  const fd = openSync(path, 'r');
  let got: number;
  let size: number;
  try {
    got = readSync(fd, head, 0, head.length, 0);
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  const kind = sniffFileKind(head.subarray(0, got), size);
  if (kind === 'zip' || kind === 'pickle') throw new PickleCheckpointError(pickleRefusalMessage(path, kind), path);
  if (byExtension && kind !== 'safetensors') throw new PickleCheckpointError(pickleRefusalMessage(path, 'extension'), path);
}
