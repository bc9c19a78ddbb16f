// `inkflow colorize --flat --lineart 'frames/*.png'`: the file side of sequence colouring (the colouring is
// pipelines/flat/sequence.ts). Expands the frame pattern (wildcards * and ? in the file name only, frames in
// name order), decodes with alpha (line layers on transparency), and writes per frame
// <output stem>-<frame stem>.png, -flat.png and, with --uncertain, -uncertain.png, atomically.
import { readdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { assertWritableDir, writeFileAtomic } from '../../files/atomicWrite.ts';
import { readFileLimited } from '../../files/readLimited.ts';
import { decodeImage, encodePng, type Image } from '../../imaging/image.ts';
import { colorizeSequence } from '../../pipelines/flat/sequence.ts';
import { UsageError } from '../command.ts';

export function isFramePattern(path: string): boolean {
  return /[*?]/.test(basename(path));
}

/** Files matching a name pattern with * and ? in one folder, sorted by name (numbers compared as numbers). */
export function expandFramePattern(pattern: string): string[] {
  const dir = dirname(pattern);
  if (/[*?]/.test(dir)) throw new UsageError(`--lineart ${pattern}: wildcards are allowed in the file name only`);
  const re = new RegExp('^' + basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  let names: string[];
  try {
    names = readdirSync(dir || '.');
  } catch (err) {
    throw new UsageError(`--lineart ${pattern}: cannot read folder ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const files = names.filter((n) => re.test(n)).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).map((n) => join(dir, n));
  if (!files.length) throw new UsageError(`--lineart ${pattern}: no file matches`);
  return files;
}

export interface FlatSequenceRun {
  reference: string;
  pattern: string;
  output: string;
  uncertain: boolean;
}

/** Colours every frame matching the pattern; returns the files written. */
export async function runFlatSequence({ reference: refPath, pattern, output, uncertain }: FlatSequenceRun): Promise<string[]> {
  // The coloured first frame may match the pattern too ('frames/*.png'): it is the reference, not a frame.
  const frames = expandFramePattern(pattern).filter((f) => resolve(f) !== resolve(refPath));
  if (!frames.length) throw new UsageError(`--lineart ${pattern}: only the reference matches`);
  const stem = output.replace(/\.png$/i, '');
  const inputs = new Set([resolve(refPath), ...frames.map((f) => resolve(f))]);
  assertWritableDir(dirname(output) || '.');
  const reference = await decodeImage(readFileLimited(refPath), 4, refPath);
  const lineArts: Image[] = [];
  for (const f of frames) lineArts.push(await decodeImage(readFileLimited(f), 4, f));
  const written: string[] = [];
  const pending: Promise<void>[] = [];
  colorizeSequence({
    reference,
    lineArts,
    onFrame: (k, r) => {
      const base = `${stem}-${basename(frames[k], extname(frames[k]))}`;
      for (const w of r.warnings) console.error(`warning: ${frames[k]}: ${w}`);
      if (r.uncertainCount) console.error(`${frames[k]}: ${r.uncertainCount} uncertain region(s)`);
      const files: [string, Image][] = [[`${base}.png`, r.composite], [`${base}-flat.png`, r.flat]];
      if (uncertain) files.push([`${base}-uncertain.png`, r.uncertain]);
      for (const [path, img] of files) {
        if (inputs.has(resolve(path))) throw new UsageError(`output ${path} would overwrite an input`);
        written.push(path);
        pending.push(encodePng(img).then((png) => writeFileAtomic(path, png, { overwrite: true })));
      }
    },
  });
  await Promise.all(pending);
  return written;
}
