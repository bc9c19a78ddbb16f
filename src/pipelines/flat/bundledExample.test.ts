// The README's main job: colour the bundled example (examples/, seed 7 of the synthetic generator) with the
// flat colouriser, with the default (learned) matcher as the CLI runs it and with the model-free one. The generator
// gives the ground truth of every region, so each named part is checked.
import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { decodeImage, type Image } from '../../imaging/image.ts';
import { generateCharacterPair } from '../../imaging/synthetic/characterSheet.ts';
import { scoreColoring } from '../../imaging/synthetic/score.ts';
import { flatColorize } from './colorize.ts';
import { shippedLearnedMatching } from './learnedBackground.ts';
import type { MatchOptions } from './match.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

function rgbKey(c: readonly number[]): string {
  return `${c[0]},${c[1]},${c[2]}`;
}

/** Majority colour of the flat output over one ground-truth region. */
function regionColor(flat: Image, regions: Int32Array, id: number): string {
  const votes = new Map<string, number>();
  for (let i = 0; i < regions.length; i++) {
    if (regions[i] !== id) continue;
    const k = rgbKey([flat.data[i * 3], flat.data[i * 3 + 1], flat.data[i * 3 + 2]]);
    votes.set(k, (votes.get(k) ?? 0) + 1);
  }
  return [...votes].sort((a, b) => b[1] - a[1])[0][0];
}

describe('flat colouriser on the bundled example', () => {
  it.each([
    ['the learned matcher (the default)', () => shippedLearnedMatching()],
    ['the model-free matcher', () => undefined],
  ] as [string, () => MatchOptions | undefined][])('with %s, gives shirt, legs, sleeves, hair, skin and irises the sheet colours', async (_, match) => {
    const reference = await decodeImage(examples + 'character-sheet.png', 3);
    const lineArt = await decodeImage(examples + 'lineart.png', 1);
    const pair = generateCharacterPair({ seed: 7, width: 512 });
    // The ground truth applies only if the bundled files are this pair.
    expect(Buffer.from(reference.data).equals(Buffer.from(pair.reference.data))).toBe(true);
    expect(Buffer.from(lineArt.data).equals(Buffer.from(pair.targetLineArt.data))).toBe(true);

    const out = flatColorize({ reference, lineArt, options: { match: match() } });
    // The palette is the sheet's own colours: no anti-aliased blend of a colour with a line in between.
    expect(new Set(out.palette.colors.map(rgbKey))).toEqual(new Set(pair.palette.map(rgbKey)));

    const score = scoreColoring(out.flat, pair);
    expect(score.segmentAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(score.pixelAccuracyForeground).toBeGreaterThanOrEqual(0.97);

    const area = new Int32Array(pair.regionColors.length);
    for (const r of pair.targetRegions) if (r >= 0) area[r]++;
    const parts: Record<string, RegExp> = {
      shirt: /^torso$/, legs: /^leg[LR]$/, sleeves: /^(upper|fore)Arm[LR]$/, hair: /^(hairBack|bangs|hairLong)/,
      skin: /^(head|neck|hand[LR])$/, irises: /^iris[LR]$/,
    };
    const checked: Record<string, string[]> = {};
    for (let id = 0; id < pair.regionParts.length; id++) {
      const part = pair.regionParts[id];
      const group = Object.keys(parts).find((g) => parts[g].test(part));
      if (!group || area[id] < 30) continue;
      checked[group] = [...(checked[group] ?? []), part];
      expect(`${part} (${area[id]} px): ${regionColor(out.flat, pair.targetRegions, id)}`).toBe(`${part} (${area[id]} px): ${rgbKey(pair.regionColors[id])}`);
    }
    // Both legs, both sleeves (upper and lower arm) and both irises were among the checked regions.
    expect(checked.legs?.sort()).toEqual(['legL', 'legR']);
    expect(new Set(checked.sleeves)).toEqual(new Set(['upperArmL', 'upperArmR', 'foreArmL', 'foreArmR']));
    expect(checked.irises?.sort()).toEqual(['irisL', 'irisR']);
    for (const g of ['shirt', 'hair', 'skin']) expect(checked[g]?.length ?? 0).toBeGreaterThan(0);
  });
});
