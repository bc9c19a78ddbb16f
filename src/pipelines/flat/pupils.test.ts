// Pupils are dark but are not line: the sheet's palette must keep them, and the colouriser must give the
// target's pupil regions (small, dark-coloured areas inside the iris) the pupil colour, not the iris's or
// the line's.
import { describe, it, expect } from 'vitest';
import { generateProductionPair } from '../../imaging/synthetic/productionPair.ts';
import { rgbToLab } from '../../imaging/palette.ts';
import { segmentReference } from './referenceRegions.ts';
import { flatColorize } from './colorize.ts';

describe('flat colouring keeps pupils', () => {
  // At the bench's sizes (768² sheet, 1024×576 frames): on smaller sheets the outline covers the whole pupil.
  const pairs = [0, 1, 2, 3].map((seed) => generateProductionPair({ seed }));

  it('keeps every pupil colour in the sheet palette, however dark', () => {
    let darkest = 100;
    for (const p of pairs) {
      const pupil = p.target.regionColors[p.target.regionParts.indexOf('pupil')];
      if (!pupil) throw new Error(`seed ${p.seed}: no pupil region in the target`);
      darkest = Math.min(darkest, rgbToLab(pupil[0], pupil[1], pupil[2])[0]);
      const palette = segmentReference(p.reference).palette.colors.map((c) => c.join());
      expect(palette, `seed ${p.seed}`).toContain(pupil.join());
    }
    expect(darkest).toBeLessThan(35); // the set includes pupils close to the line threshold
  });

  it('colours most pupil pixels of the target with the pupil colour', () => {
    let n = 0;
    let ok = 0;
    for (const p of pairs) {
      const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt });
      p.target.targetRegions.forEach((r, i) => {
        if (r < 0 || p.target.regionParts[r] !== 'pupil') return;
        const c = p.target.regionColors[r];
        n++;
        if (out.flat.data[i * 3] === c[0] && out.flat.data[i * 3 + 1] === c[1] && out.flat.data[i * 3 + 2] === c[2]) ok++;
      });
    }
    expect(n).toBeGreaterThan(100);
    expect(ok / n).toBeGreaterThan(0.6);
  });
});
