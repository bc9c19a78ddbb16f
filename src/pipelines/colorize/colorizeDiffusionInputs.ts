// Inputs of a ColorizeDiffusion run as files: a picture (PNG, JPEG, … via sharp) or a NumPy .npy array of
// float32/float64 values, which is used exactly as given. Arrays are how a run of the original code is
// reproduced: its reference and sketch are tensors in [−1, 1] ([1,3,H,W] or [3,H,W]) and its masks soft
// values in [0, 1] ([1,1,H,W], [1,H,W] or [H,W]) that a PNG would round.
import { readFileLimited } from '../../files/readLimited.ts';
import { decodeImage, type Image } from '../../imaging/image.ts';
import { maskFromImage, type Mask } from '../../imaging/masks.ts';
import { ColorizeDiffusionError, type F32Tensor } from './colorizeDiffusion.ts';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** Parses a little-endian, C-ordered .npy of float32 / float64 into float32. */
export function parseNpy(buf: Buffer, what = 'array'): F32Tensor {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new ColorizeDiffusionError(`${what} is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (![1, 2, 3].includes(major) || start + headerLen > buf.length) throw new ColorizeDiffusionError(`${what}: unsupported or truncated .npy header`);
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new ColorizeDiffusionError(`${what}: cannot read the .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new ColorizeDiffusionError(`${what}: Fortran-ordered arrays are not supported (save with np.ascontiguousarray)`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new ColorizeDiffusionError(`${what}: bad shape (${shapeText})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (!bytes) throw new ColorizeDiffusionError(`${what}: dtype ${descr} is not supported (expected little-endian float32 '<f4' or float64 '<f8')`);
  const body = buf.subarray(start + headerLen);
  if (body.length !== n * bytes) throw new ColorizeDiffusionError(`${what}: ${body.length} data bytes for shape (${shape.join(', ')}) of ${descr}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = bytes === 4 ? body.readFloatLE(i * 4) : body.readDoubleLE(i * 8);
  if (!data.every(Number.isFinite)) throw new ColorizeDiffusionError(`${what}: contains NaN or infinite values`);
  return { shape, data };
}

/** A .npy file of `shape` (float32), for tests and tools that hand tensors to the CLI. */
export function encodeNpy(t: F32Tensor): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.shape.join(', ')}${t.shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(t.data.length * 4);
  t.data.forEach((v, i) => body.writeFloatLE(v, i * 4));
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

const isNpyPath = (path: string) => path.toLowerCase().endsWith('.npy');

/** A reference or sketch: a picture, or a .npy tensor in [−1, 1] as [1,3,H,W] / [3,H,W]. */
export async function readColorizeImage(path: string, what: string): Promise<Image | F32Tensor> {
  const buf = readFileLimited(path);
  if (!isNpyPath(path)) return decodeImage(buf, 3, path);
  const t = parseNpy(buf, `${what} ${path}`);
  const s = t.shape.length === 3 ? [1, ...t.shape] : t.shape;
  if (s.length !== 4 || s[0] !== 1 || s[1] !== 3) throw new ColorizeDiffusionError(`${what} ${path} must be [1,3,H,W] or [3,H,W], got (${t.shape.join(', ')})`);
  return { shape: s, data: t.data };
}

/** A mask: a picture (its red channel, 0–255 → 0–1) or a .npy of values in [0, 1] as [1,1,H,W], [1,H,W] or [H,W]. */
export async function readColorizeMask(path: string, what: string): Promise<Mask | F32Tensor> {
  const buf = readFileLimited(path);
  if (!isNpyPath(path)) return maskFromImage(await decodeImage(buf, 3, path));
  const t = parseNpy(buf, `${what} ${path}`);
  const hw = t.shape.slice(-2);
  const lead = t.shape.slice(0, -2);
  if (hw.length !== 2 || lead.some((d) => d !== 1) || lead.length > 2) throw new ColorizeDiffusionError(`${what} ${path} must be [1,1,H,W], [1,H,W] or [H,W], got (${t.shape.join(', ')})`);
  return { shape: [1, 1, hw[0], hw[1]], data: t.data };
}
