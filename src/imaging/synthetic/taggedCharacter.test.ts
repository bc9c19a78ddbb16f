import { describe, expect, it } from 'vitest';
import { COLOR_NAMES, NAMED_COLORS, TAGGED_PARTS, captionOf, drawTaggedCharacter, isHeldOutCombination, sampleTags, trainingCaption, createRng } from './taggedCharacter.ts';
import { heldOutPrompts, learnPartLayout, scoreTags, summarise } from './tagAccuracy.ts';

describe('tagged synthetic characters', () => {
  it('are deterministic per seed and paint every tagged part in its named colour', () => {
    const a = drawTaggedCharacter(11, 128);
    const b = drawTaggedCharacter(11, 128);
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    const tags = { hair: 'red', shirt: 'blue', pants: 'green', pose: 'arms up', skirt: false, longHair: true } as const;
    const c = drawTaggedCharacter(11, 128, tags);
    expect(captionOf(c.tags)).toBe('red hair, blue shirt, green pants, long hair, arms up');
    TAGGED_PARTS.forEach((part, k) => {
      const want = NAMED_COLORS[tags[part]];
      let n = 0;
      let exact = 0;
      for (let p = 0; p < 128 * 128; p++) {
        if (c.partOf[p] !== k) continue;
        n++;
        if ([0, 1, 2].every((ch) => c.image.data[p * 3 + ch] === want[ch])) exact++;
      }
      expect(n, part).toBeGreaterThan(40);
      // Outline anti-aliasing darkens a few edge pixels; the rest is the flat named colour.
      expect(exact / n, part).toBeGreaterThan(0.8);
    });
  });

  it('holds out about one colour triple in ten, and training captions keep each tag whole', () => {
    let held = 0;
    const triples = new Set<string>();
    for (const h of COLOR_NAMES) for (const s of COLOR_NAMES) for (const p of COLOR_NAMES) {
      if (isHeldOutCombination({ hair: h, shirt: s, pants: p })) held++;
      triples.add(`${h}/${s}/${p}`);
    }
    expect(held / triples.size).toBeGreaterThan(0.07);
    expect(held / triples.size).toBeLessThan(0.13);
    const t = sampleTags(createRng(3));
    const rng = createRng(9);
    const shuffled = trainingCaption(t, () => rng.next(), 1).split(', ').sort();
    expect(shuffled).toEqual(captionOf(t).split(', ').sort());
  });

  it('tag accuracy: high on the generator\'s own pictures, near chance against other prompts', () => {
    const layout = learnPartLayout(128, 60, 2_000_000);
    const prompts = heldOutPrompts(30, 1_000_000, isHeldOutCombination);
    const pictures = prompts.map((p) => drawTaggedCharacter(p.seed, 128, p.tags).image);
    const own = summarise(pictures.map((img, i) => scoreTags(img, prompts[i].tags, layout)));
    const other = summarise(pictures.map((img, i) => scoreTags(img, prompts[(i + 1) % prompts.length].tags, layout)));
    expect(own.colour).toBeGreaterThan(0.9);
    expect(own.pose).toBeGreaterThan(0.9);
    expect(other.colour).toBeLessThan(0.35);
  });
});
