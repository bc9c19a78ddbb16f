// The production-style fixture (fixtures/bustShot.ts, our own drawing): a transparent sheet and a closer,
// tilted shot in which the twin tails and the shirt are cut by the frame, with blue colour-trace shadows.
import { describe, it, expect } from 'vitest';
import { asLineLayer } from '../../imaging/synthetic/productionPair.ts';
import type { Rgb } from '../../imaging/palette.ts';
import { flatColorize, type FlatColorizeResult } from './colorize.ts';
import { BUST_COLORS, bustSheet, bustShot } from './fixtures/bustShot.ts';

const sheet = bustSheet();
const shot = bustShot();

function partAccuracy(out: FlatColorizeResult, part: string, want: Rgb): number {
  let n = 0;
  let ok = 0;
  for (let i = 0; i < shot.part.length; i++) {
    if (shot.part[i] !== part) continue;
    n++;
    if (out.flat.data[i * 3] === want[0] && out.flat.data[i * 3 + 1] === want[1] && out.flat.data[i * 3 + 2] === want[2]) ok++;
  }
  if (!n) throw new Error(`fixture has no pixels of ${part}`);
  return ok / n;
}

function characterAccuracy(out: FlatColorizeResult): number {
  let n = 0;
  let ok = 0;
  for (let i = 0; i < shot.truth.length; i++) {
    const t = shot.truth[i];
    if (!t) continue;
    n++;
    if (out.flat.data[i * 3] === t[0] && out.flat.data[i * 3 + 1] === t[1] && out.flat.data[i * 3 + 2] === t[2]) ok++;
  }
  return ok / n;
}

describe('flat colouring of the bust-shot fixture', () => {
  const out = flatColorize({ reference: sheet.image, lineArt: shot.image });

  it('is a transparent sheet and a shot cut by the frame', () => {
    expect(sheet.image.channels).toBe(4);
    expect(sheet.image.data[3]).toBe(0); // top-left corner transparent
    const w = shot.image.width;
    const h = shot.image.height;
    const onBorder = new Set<string>();
    for (let x = 0; x < w; x++) for (const y of [0, h - 1]) if (shot.part[y * w + x]) onBorder.add(shot.part[y * w + x]!);
    for (let y = 0; y < h; y++) for (const x of [0, w - 1]) if (shot.part[y * w + x]) onBorder.add(shot.part[y * w + x]!);
    expect(onBorder.has('tailL')).toBe(true);
    expect(onBorder.has('shirt')).toBe(true);
  });

  it('colours the character correctly, border-cropped parts and nested eyes included', () => {
    const acc = characterAccuracy(out);
    console.log(`bust shot: character pixel accuracy ${(100 * acc).toFixed(2)} %`);
    expect(acc).toBeGreaterThanOrEqual(0.97);
    expect(partAccuracy(out, 'tailL', BUST_COLORS.hair)).toBeGreaterThan(0.95);
    expect(partAccuracy(out, 'tailR', BUST_COLORS.hair)).toBeGreaterThan(0.95);
    expect(partAccuracy(out, 'shirt', BUST_COLORS.shirt)).toBeGreaterThan(0.95);
    expect(partAccuracy(out, 'ribbon', BUST_COLORS.ribbon)).toBeGreaterThan(0.9);
    for (const side of ['L', 'R']) {
      expect(partAccuracy(out, 'eyeWhite' + side, BUST_COLORS.eyeWhite)).toBeGreaterThan(0.9);
      expect(partAccuracy(out, 'iris' + side, BUST_COLORS.iris)).toBeGreaterThan(0.9);
      expect(partAccuracy(out, 'pupil' + side, BUST_COLORS.pupil)).toBeGreaterThan(0.9);
    }
    // The regions bounded by the blue colour-trace lines take the shade colours.
    expect(partAccuracy(out, 'tailShadeL', BUST_COLORS.hairShade)).toBeGreaterThan(0.9);
    expect(partAccuracy(out, 'neckShade', BUST_COLORS.skinShade)).toBeGreaterThan(0.9);
  });

  it('leaves the paper enclosed between the twin tails and the neck white (background matched to the sheet\'s pockets)', () => {
    // The sheet has the same transparent pockets between tails and neck: they are background regions that the
    // target's pockets match. (Before, the pockets took the skin colour: 78 % of the paper was white.)
    const w = shot.image.width;
    const pocketOf = new Map<number, [number, number]>(); // region → [paper pixels, white paper pixels]
    let paper = 0;
    let white = 0;
    for (let i = 0; i < shot.part.length; i++) {
      if (shot.part[i] !== 'paper') continue;
      const isWhite = out.flat.data[i * 3] === 255 && out.flat.data[i * 3 + 1] === 255 && out.flat.data[i * 3 + 2] === 255;
      paper++;
      if (isWhite) white++;
      if (out.regions.confidence.length && !out.regions.touchesBorder[out.regions.labels[i]]) {
        const e = pocketOf.get(out.regions.labels[i]) ?? [0, 0];
        e[0]++;
        if (isWhite) e[1]++;
        pocketOf.set(out.regions.labels[i], e);
      }
    }
    const pockets = [...pocketOf.values()].filter(([n]) => n > 0.01 * w * w);
    expect(pockets.length).toBe(2);
    for (const [n, ok] of pockets) expect(ok / n).toBeGreaterThan(0.95);
    expect(white / paper).toBeGreaterThan(0.98);
  });

  it('keeps the paper corners cut off by the twin tails at the frame edge white', () => {
    // Every paper region touching the frame edge, the small corner left of the left tail included (it used to
    // take the hair colour: it borders only hair, but lands on the sheet's paper beside the tail).
    const corners = new Map<number, [number, number]>();
    for (let i = 0; i < shot.part.length; i++) {
      if (shot.part[i] !== 'paper') continue;
      const r = out.regions.labels[i];
      if (!out.regions.touchesBorder[r]) continue;
      const e = corners.get(r) ?? [0, 0];
      e[0]++;
      if (out.flat.data[i * 3] === 255 && out.flat.data[i * 3 + 1] === 255 && out.flat.data[i * 3 + 2] === 255) e[1]++;
      corners.set(r, e);
    }
    const sizable = [...corners.values()].filter(([n]) => n > 500);
    expect(sizable.length).toBeGreaterThanOrEqual(2); // the big paper area and the corner by the left tail
    for (const [n, ok] of sizable) expect(ok / n).toBeGreaterThan(0.95);
  });

  it('paints the colour-trace lines over in the finished drawing', () => {
    let traced = 0;
    for (let i = 0; i < shot.part.length; i++) {
      const [r, g, b] = [shot.image.data[i * 3], shot.image.data[i * 3 + 1], shot.image.data[i * 3 + 2]];
      if (b - Math.max(r, g) < 120) continue; // a blue trace pixel
      traced++;
      for (let c = 0; c < 3; c++) expect(out.composite.data[i * 3 + c]).toBe(out.flat.data[i * 3 + c]);
    }
    expect(traced).toBeGreaterThan(20);
  });

  it('gives the same colouring from a line layer on transparency', () => {
    const layered = flatColorize({ reference: sheet.image, lineArt: asLineLayer(shot.image) });
    expect(characterAccuracy(layered)).toBeGreaterThanOrEqual(0.97);
  });
});
