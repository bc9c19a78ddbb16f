// kohya_ss dataset folders: `<dir>/<repeats>_<name>/` holding images with same-named `.txt` captions
// (an image without one is captioned with the folder's name, e.g. "15_ohwx girl" → "ohwx girl", as
// kohya's DreamBooth method does). `dir` may be the `img/` folder itself or its parent. A
// regularisation folder uses the same convention. Names are resolved inside the folder (no escapes).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, basename } from 'node:path';
import { resolveInside } from '../files/safePath.ts';
import { readFileLimited } from '../files/readLimited.ts';

export class DatasetError extends Error {
  override name = 'DatasetError';
}

export interface DatasetItem {
  image: string;
  caption: string;
  repeats: number;
  /** From the regularisation folder (prior preservation). */
  regularization: boolean;
  /** The concept folder's name after the repeat count ("ohwx girl"). */
  concept: string;
}

const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp']);
const CONCEPT_DIR = /^(\d+)_(.+)$/;
const MAX_CAPTION_BYTES = 64 * 1024;

function conceptRoot(dir: string): string {
  const img = join(dir, 'img');
  if (existsSync(img) && statSync(img).isDirectory() && readdirSync(img).some((n) => CONCEPT_DIR.test(n))) return img;
  return dir;
}

function scan(dir: string, regularization: boolean): DatasetItem[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`dataset folder not found: ${dir}`);
  const root = conceptRoot(dir);
  const items: DatasetItem[] = [];
  const concepts = readdirSync(root).filter((n) => CONCEPT_DIR.test(n) && statSync(resolveInside(root, n)).isDirectory()).sort();
  if (!concepts.length) throw new DatasetError(`${dir}: no kohya concept folders (expected <repeats>_<name>/, e.g. img/10_ohwx girl/)`);
  for (const folder of concepts) {
    const [, reps, concept] = CONCEPT_DIR.exec(folder)!;
    const repeats = Number(reps);
    if (repeats < 1) throw new DatasetError(`${join(root, folder)}: repeat count must be at least 1`);
    const cdir = resolveInside(root, folder);
    for (const file of readdirSync(cdir).sort()) {
      if (!IMAGE_EXTS.has(extname(file).toLowerCase())) continue;
      const image = resolveInside(cdir, file);
      const captionFile = join(cdir, `${basename(file, extname(file))}.txt`);
      const caption = existsSync(captionFile) ? readFileLimited(resolveInside(cdir, basename(captionFile)), MAX_CAPTION_BYTES).toString('utf8').trim() : concept;
      items.push({ image, caption, repeats, regularization, concept });
    }
  }
  if (!items.length) throw new DatasetError(`${dir}: the concept folders hold no images (${[...IMAGE_EXTS].join(', ')})`);
  return items;
}

/** Training images (and optional regularisation images) with captions and repeat counts. */
export function readKohyaDataset(dir: string, regDir?: string): DatasetItem[] {
  return [...scan(dir, false), ...(regDir ? scan(regDir, true) : [])];
}

/** kohya's ss_tag_frequency: per concept folder, how often each comma-separated tag occurs. */
export function tagFrequency(items: readonly DatasetItem[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const it of items) {
    const key = `${it.repeats}_${it.concept}`;
    const counts = (out[key] ??= {});
    for (const tag of it.caption.split(',').map((t) => t.trim()).filter(Boolean)) counts[tag] = (counts[tag] ?? 0) + 1;
  }
  return out;
}
