// SaveImage and PreviewImage: PNGs named as ComfyUI names them (`prefix_00001_.png`, the counter
// continuing after the highest existing one), with the prompt and every extra_pnginfo key as tEXt
// (Python json.dumps text), written atomically and never over an existing file.
import { readdirSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { posix } from 'node:path';
import { assertWritableDir, OutputExistsError, writeFileAtomic } from '../../files/atomicWrite.ts';
import { resolveInside } from '../../files/safePath.ts';
import { encodePng, type PngText } from '../../imaging/image.ts';
import type { NodeContext, NodeDef } from '../nodeSpec.ts';
import { pyJsonDumps } from '../python.ts';
import { batchEntryToImage, type ImageBatch } from '../values.ts';

export interface SavedImage {
  filename: string;
  subfolder: string;
  type: 'output' | 'temp';
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** ComfyUI's %width%, %height%, %year% … %second% in a filename prefix. */
function expandPrefix(prefix: string, width: number, height: number): string {
  if (!prefix.includes('%')) return prefix;
  const d = new Date();
  return prefix
    .replaceAll('%width%', String(width)).replaceAll('%height%', String(height))
    .replaceAll('%year%', String(d.getFullYear())).replaceAll('%month%', pad2(d.getMonth() + 1)).replaceAll('%day%', pad2(d.getDate()))
    .replaceAll('%hour%', pad2(d.getHours())).replaceAll('%minute%', pad2(d.getMinutes())).replaceAll('%second%', pad2(d.getSeconds()));
}

/** The next counter for `name` in `dir`: one past the highest `name_NNNNN_…` there (1 when none). */
function nextCounter(dir: string, name: string): number {
  let max = 0;
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return 1;
  }
  for (const f of files) {
    if (f.slice(0, name.length + 1).toLowerCase() !== `${name}_`.toLowerCase()) continue;
    const digits = Number.parseInt(f.slice(name.length + 1).split('_')[0], 10);
    if (Number.isInteger(digits) && /^\d+$/.test(f.slice(name.length + 1).split('_')[0])) max = Math.max(max, digits);
  }
  return max + 1;
}

/** Saves every image of a batch into `root` under `prefix` (which may name a subfolder). */
export async function saveImageBatch(
  images: ImageBatch,
  prefix: string,
  root: string,
  type: 'output' | 'temp',
  ctx: Pick<NodeContext, 'prompt' | 'extraPngInfo' | 'signal'>,
  withMetadata = true,
): Promise<SavedImage[]> {
  const expanded = expandPrefix(prefix, images.width, images.height);
  const norm = posix.normalize(expanded.replaceAll('\\', '/'));
  const subfolder = posix.dirname(norm) === '.' ? '' : posix.dirname(norm);
  const name = posix.basename(norm);
  // resolveInside refuses `..`, absolute prefixes and symlinks out of the output folder.
  const dir = subfolder ? resolveInside(root, subfolder) : root;
  assertWritableDir(dir);
  const text: PngText = {};
  if (withMetadata) {
    text.prompt = pyJsonDumps(ctx.prompt);
    for (const [k, v] of Object.entries(ctx.extraPngInfo ?? {})) text[k] = pyJsonDumps(v);
  }
  const saved: SavedImage[] = [];
  let counter = nextCounter(dir, name);
  for (let b = 0; b < images.batch; b++) {
    ctx.signal.throwIfAborted();
    const png = await encodePng(batchEntryToImage(images, b), text);
    const base = name.replaceAll('%batch_num%', String(b));
    for (;;) {
      const filename = `${base}_${String(counter).padStart(5, '0')}_.png`;
      try {
        writeFileAtomic(resolveInside(dir, filename), png);
        saved.push({ filename, subfolder, type });
        counter++;
        break;
      } catch (e) {
        // Another writer took the name between listing and writing: take the next number.
        if (!(e instanceof OutputExistsError)) throw e;
        counter++;
      }
    }
  }
  return saved;
}

export const SaveImage: NodeDef = {
  name: 'SaveImage',
  displayName: 'Save Image',
  description: 'Saves the input images to your ComfyUI output directory.',
  category: 'image',
  required: {
    images: { type: 'IMAGE', link: true, tooltip: 'The images to save.' },
    filename_prefix: { type: 'STRING', default: 'ComfyUI', tooltip: 'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.' },
  },
  hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
  outputs: [],
  outputNode: true,
  async run(v, ctx) {
    const images = await saveImageBatch(v.images as ImageBatch, String(v.filename_prefix), ctx.env.outputDir, 'output', ctx);
    return { outputs: [], ui: { images } };
  },
};

const TEMP_LETTERS = 'abcdefghijklmnopqrstupvxyz';

export const PreviewImage: NodeDef = {
  name: 'PreviewImage',
  displayName: 'Preview Image',
  description: 'Saves the input images to your ComfyUI output directory.',
  category: 'image',
  required: { images: { type: 'IMAGE', link: true } },
  hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
  outputs: [],
  outputNode: true,
  async run(v, ctx) {
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += TEMP_LETTERS[randomInt(TEMP_LETTERS.length)];
    const images = await saveImageBatch(v.images as ImageBatch, `ComfyUI_temp_${suffix}`, ctx.env.tempDir, 'temp', ctx);
    return { outputs: [], ui: { images } };
  },
};
