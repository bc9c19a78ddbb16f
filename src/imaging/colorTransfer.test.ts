import { describe, expect, it } from 'vitest';
import { createImage } from './image.ts';
import { rgbToLab } from './palette.ts';
import { labMeanStdTransfer } from './colorTransfer.ts';

describe('labMeanStdTransfer', () => {
  it('gives the target the source\'s Lab mean and spread; grey line art takes the source\'s mean chroma', () => {
    const source = createImage(2, 1, 3);
    source.data.set([170, 120, 110, 110, 120, 170]);
    const line = createImage(4, 1, 1);
    line.data.set([100, 160, 160, 160]);
    const out = labMeanStdTransfer(line, source);
    const labs = [0, 1, 2, 3].map((i) => rgbToLab(out.data[i * 3], out.data[i * 3 + 1], out.data[i * 3 + 2]));
    const src = [rgbToLab(170, 120, 110), rgbToLab(110, 120, 170)];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
    // L: mean and std match up to 8-bit rounding and clipping to the sRGB gamut (the darkest line clips)
    expect(Math.abs(mean(labs.map((l) => l[0])) - mean(src.map((l) => l[0])))).toBeLessThan(4);
    expect(Math.abs(std(labs.map((l) => l[0])) - std(src.map((l) => l[0])))).toBeLessThan(4);
    // the line stays darker than the paper
    expect(labs[0][0]).toBeLessThan(labs[1][0]);
    // chroma is constant: the source's mean a, b
    for (const l of labs.slice(1)) expect(Math.abs(l[1] - mean(src.map((s) => s[1])))).toBeLessThan(3);
  });
});
