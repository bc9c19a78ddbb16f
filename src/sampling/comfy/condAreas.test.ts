// ComfyUI's area weights and blend on hand-computable cases (comfy/samplers.py get_area_and_mult,
// _calc_cond_batch, create_cond_with_same_area_if_none).
import { describe, expect, it } from 'vitest';
import { addOppositeAreas, areaWeights, AreaError, clampArea, createAreaBlend, cropLatent, type AreaCond } from './condAreas.ts';

const plane = (m: Float32Array, w: number) => Array.from({ length: m.length / w }, (_, r) => Array.from(m.subarray(r * w, (r + 1) * w)));

describe('conditioning areas', () => {
  it('feathers only the edges inside the latent, over min(8, side // 4) rows, times the strength', () => {
    // 8×8 area at (x 0, y 4) of a 16×16 latent: rr = 2; top and bottom edges are inside, left touches the border, right is inside.
    const { area, mult } = areaWeights({ height: 8, width: 8, y: 4, x: 0 }, 2, 16, 16);
    expect(area).toEqual({ height: 8, width: 8, y: 4, x: 0 });
    const rows = plane(mult, 8);
    expect(rows[0]).toEqual([1, 1, 1, 1, 1, 1, 1, 0.5]);
    expect(rows[3]).toEqual([2, 2, 2, 2, 2, 2, 2, 1]);
    expect(rows[7]).toEqual(rows[0]);
    expect(rows[1]).toEqual(rows[3]);
    // rr = min(8, 40 // 4) = 8: the first inner row is scaled by 1/8.
    const wide = areaWeights({ height: 40, width: 40, y: 8, x: 8 }, 1, 64, 64).mult;
    expect(wide[0]).toBeCloseTo(1 / 64, 7);
    expect(wide[7 * 40 + 20]).toBe(1);
    expect(wide[20 * 40 + 20]).toBe(1);
  });

  it('a full-size area and no area weigh every element by the strength alone', () => {
    expect(Array.from(areaWeights({ height: 4, width: 6, y: 0, x: 0 }, 1, 4, 6).mult)).toEqual(new Array(24).fill(1));
    expect(Array.from(areaWeights(undefined, 0.5, 4, 6).mult)).toEqual(new Array(24).fill(0.5));
  });

  it('clamps an area to the latent and refuses one outside it', () => {
    expect(clampArea({ height: 16, width: 16, y: 12, x: 10 }, 16, 32)).toEqual({ height: 4, width: 16, y: 12, x: 10 });
    expect(() => clampArea({ height: 8, width: 8, y: 16, x: 0 }, 16, 16)).toThrow(AreaError);
  });

  it('blends predictions by their weights; uncovered elements are 0', () => {
    const blend = createAreaBlend(1, 2, 3);
    blend.add(Float32Array.from([1, 1, 1, 1]), { height: 2, width: 2, y: 0, x: 0 }, Float32Array.from([1, 1, 1, 1]));
    blend.add(Float32Array.from([4, 4]), { height: 2, width: 1, y: 0, x: 1 }, Float32Array.from([3, 1]));
    // (1·1 + 4·3) / 4 = 3.25 and (1 + 4) / 2 = 2.5 in column 1; column 2 has no prediction.
    expect(Array.from(blend.result())).toEqual([1, 3.25, 0, 1, 2.5, 0]);
    const x = Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => i);
    expect(Array.from(cropLatent(x, 2, 4, 4, { height: 2, width: 2, y: 1, x: 2 }))).toEqual([6, 7, 10, 11, 22, 23, 26, 27]);
  });

  it('gives an area its opposite on the other side: the smallest covering prompt, with the area and strength', () => {
    type C = AreaCond & { name: string };
    const area = { height: 8, width: 8, y: 8, x: 0 };
    const sides: C[][] = [[{ name: 'cat' }, { name: 'house', area, strength: 0.7 }], [{ name: 'blurry' }]];
    addOppositeAreas(sides, (src, model) => ({ ...src, name: model.name }));
    expect(sides[1]).toEqual([{ name: 'blurry' }, { name: 'blurry', area, strength: 0.7 }]);
    expect(sides[0]).toHaveLength(2); // the copy has the same area as 'house': nothing goes back
    // A smaller covering area wins over a full-image prompt; an equal area already present adds nothing.
    const big = { height: 16, width: 16, y: 0, x: 0 };
    const s2: C[][] = [[{ name: 'p', area }], [{ name: 'n' }, { name: 'nbig', area: big }]];
    addOppositeAreas(s2, (src, model) => ({ ...src, name: model.name }));
    expect(s2[1].at(-1)).toEqual({ name: 'nbig', area });
    const s3: C[][] = [[{ name: 'p', area }], [{ name: 'n', area }]];
    addOppositeAreas(s3, (src, model) => ({ ...src, name: model.name }));
    expect(s3.map((s) => s.length)).toEqual([1, 1]);
  });
});
