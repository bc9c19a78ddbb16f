import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, encodePng } from '../../imaging/image.ts';
import { asLineLayer, generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { expandFramePattern, runFlatSequence } from './colorizeFlatSequence.ts';

describe('colorize --flat with a frame pattern', () => {
  it('colours every matching frame in name order, from a coloured first frame, with uncertain masks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-seq-'));
    const p = generateProductionPair({ seed: 117, targetWidth: 512, targetHeight: 288, width: 384 });
    writeFileSync(join(dir, 'key.png'), await encodePng(p.target.colored));
    // Frame 10 sorts after frame 2 (numeric order); the second frame is a line layer on transparency.
    writeFileSync(join(dir, 'f2.png'), await encodePng(p.next.lineArt));
    writeFileSync(join(dir, 'f10.png'), await encodePng(asLineLayer(p.target.lineArt)));
    writeFileSync(join(dir, 'notes.txt'), 'not a frame');
    expect(expandFramePattern(join(dir, 'f*.png')).map((f) => f.slice(dir.length + 1))).toEqual(['f2.png', 'f10.png']);
    const written = await runFlatSequence({ reference: join(dir, 'key.png'), pattern: join(dir, 'f*.png'), output: join(dir, 'out.png'), uncertain: true });
    expect(written.map((f) => f.slice(dir.length + 1))).toEqual([
      'out-f2.png', 'out-f2-flat.png', 'out-f2-uncertain.png', 'out-f10.png', 'out-f10-flat.png', 'out-f10-uncertain.png',
    ]);
    // f10 is the first frame's own line art: propagated twice, its colours must come back.
    const flat = await decodeImage(readFileSync(join(dir, 'out-f10-flat.png')));
    let ok = 0;
    let n = 0;
    for (let i = 0; i < p.target.targetRegions.length; i++) {
      const r = p.target.targetRegions[i];
      if (r < 0 || p.target.regionIsBackground[r]) continue;
      n++;
      const c = p.target.regionFrameColors[r];
      if (flat.data[i * 3] === c[0] && flat.data[i * 3 + 1] === c[1] && flat.data[i * 3 + 2] === c[2]) ok++;
    }
    expect(ok / n).toBeGreaterThan(0.97);
    const mask = await decodeImage(readFileSync(join(dir, 'out-f2-uncertain.png')), 1);
    expect([mask.width, mask.height]).toEqual([512, 288]);
  });

  it('says clearly when nothing matches', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-seq-'));
    expect(() => expandFramePattern(join(dir, '*.png'))).toThrow(/no file matches/);
    expect(() => expandFramePattern(join(dir, '*', 'a.png'))).toThrow(/file name only/);
  });
});

describe('colorize --flat with a pattern that also matches the reference', () => {
  it('does not colour the reference as a frame', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-seq-'));
    const p = generateProductionPair({ seed: 117, targetWidth: 256, targetHeight: 144, width: 256 });
    writeFileSync(join(dir, 'frame0.png'), await encodePng(p.target.colored));
    writeFileSync(join(dir, 'frame1.png'), await encodePng(p.next.lineArt));
    const written = await runFlatSequence({ reference: join(dir, 'frame0.png'), pattern: join(dir, 'frame*.png'), output: join(dir, 'out', 'c.png'), uncertain: false });
    expect(written.map((f) => f.slice(dir.length + 1))).toEqual([join('out', 'c-frame1.png'), join('out', 'c-frame1-flat.png')]);
  });
});
