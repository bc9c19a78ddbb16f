// Tag-captioned synthetic characters for the bundled text-to-image model: the character generator's
// figure with its hair, shirt (and sleeves) and pants/skirt painted in one of ten NAMED colours, in one of
// three named arm poses, captioned the way a booru tag list reads ("red hair, blue shirt, green pants,
// arms up"). Because the colours come from the names, a caption is exactly what the picture shows, and
// the evaluation can check a generated picture against the names (tagAccuracy.ts).
import type { Image } from '../image.ts';
import type { Rgb } from '../palette.ts';
import { createRng, type Rng } from './random.ts';
import { buildParts, partsBBox, placement, renderParts, sampleCharacter, sheetPose, type Pose, colourise } from './characterSheet.ts';
import { IDENTITY } from './rasterize.ts';

/** The colour words and the flat colour each one paints (far apart in Lab; none near the lines' black or the paper's white). */
export const NAMED_COLORS: Readonly<Record<string, Rgb>> = {
  red: [205, 35, 40],
  orange: [245, 140, 25],
  yellow: [245, 220, 50],
  green: [55, 165, 60],
  cyan: [70, 205, 225],
  blue: [45, 80, 215],
  purple: [135, 55, 185],
  pink: [245, 135, 195],
  brown: [125, 75, 35],
  gray: [125, 125, 125],
};
export const COLOR_NAMES = Object.keys(NAMED_COLORS);

/** Figure parts a caption names, with the character-sheet slots each one paints. */
export const TAGGED_PARTS = ['hair', 'shirt', 'pants'] as const;
export type TaggedPart = (typeof TAGGED_PARTS)[number];

export const ARM_POSES = ['arms up', 'arms out', 'arms down'] as const;
export type ArmPose = (typeof ARM_POSES)[number];

export interface CharacterTags {
  hair: string;
  shirt: string;
  pants: string;
  pose: ArmPose;
  /** Draw a skirt instead of trousers (the caption says "skirt"). */
  skirt: boolean;
  longHair: boolean;
}

export interface TaggedCharacter {
  tags: CharacterTags;
  /** RGB, white paper, black outlines. */
  image: Image;
  /** Per pixel: index into TAGGED_PARTS of the part covering it (−1 elsewhere and on outlines). */
  partOf: Int8Array;
}

const DEG = Math.PI / 180;

/** The caption words, in the canonical order (hair, shirt, pants/skirt, hair length, pose). */
export function tagList(t: CharacterTags): string[] {
  return [`${t.hair} hair`, `${t.shirt} shirt`, `${t.pants} ${t.skirt ? 'skirt' : 'pants'}`, t.longHair ? 'long hair' : 'short hair', t.pose];
}

export function captionOf(t: CharacterTags): string {
  return tagList(t).join(', ');
}

/**
 * Words no caption uses, kept in the vocabulary as LoRA trigger words (kohya's customary rare tokens):
 * a character LoRA trained on the model can bind its character to one of them.
 */
export const TRIGGER_WORDS = ['ohwx', 'sks', 'zkz'] as const;

/** Every word a caption can contain, plus the trigger words (the text model's vocabulary). */
export function captionWords(): string[] {
  return [...COLOR_NAMES, 'hair', 'shirt', 'pants', 'skirt', 'long', 'short', 'arms', 'up', 'out', 'down', ...TRIGGER_WORDS];
}

export function sampleTags(rng: Rng): CharacterTags {
  return {
    hair: rng.pick(COLOR_NAMES),
    shirt: rng.pick(COLOR_NAMES),
    pants: rng.pick(COLOR_NAMES),
    pose: rng.pick(ARM_POSES),
    skirt: rng.chance(0.35),
    longHair: rng.chance(0.5),
  };
}

function armAngles(rng: Rng, pose: ArmPose): { shoulder: number; elbow: number } {
  if (pose === 'arms up') return { shoulder: rng.range(135, 165) * DEG, elbow: rng.range(-10, 15) * DEG };
  if (pose === 'arms out') return { shoulder: rng.range(80, 100) * DEG, elbow: rng.range(-10, 10) * DEG };
  return { shoulder: rng.range(4, 16) * DEG, elbow: rng.range(0, 12) * DEG };
}

function posed(rng: Rng, arms: ArmPose): Pose {
  const l = armAngles(rng, arms);
  const r = armAngles(rng, arms);
  return {
    ...sheetPose(),
    shoulderL: l.shoulder, shoulderR: r.shoulder, elbowL: l.elbow, elbowR: r.elbow,
    hipL: rng.range(3, 14) * DEG, hipR: rng.range(3, 14) * DEG,
    headTilt: rng.range(-8, 8) * DEG, gazeX: rng.range(-0.02, 0.02), gazeY: rng.range(-0.015, 0.015),
    rotation: rng.range(-4, 4) * DEG, scale: rng.range(0.9, 1.04), offsetX: rng.range(-0.04, 0.04), offsetY: rng.range(-0.03, 0.03),
  };
}

/**
 * Draws the character for `seed` with `tags` (sampled from the seed when absent) at size×size. The same
 * seed and tags always give the same bytes; the seed also decides the figure's proportions, skin and the
 * untagged colours (shoes, eyes, accessories).
 */
export function drawTaggedCharacter(seed: number, size: number, tags?: CharacterTags): TaggedCharacter {
  const rng = createRng(seed);
  const t = tags ?? sampleTags(rng);
  const ch = sampleCharacter(rng);
  ch.colors.hair = NAMED_COLORS[t.hair];
  ch.colors.shirt = NAMED_COLORS[t.shirt];
  ch.colors.sleeve = NAMED_COLORS[t.shirt];
  ch.colors.pants = NAMED_COLORS[t.pants];
  ch.colors.legs = ch.colors.skin;
  ch.skirt = t.skirt;
  ch.longHair = t.longHair ? rng.range(0.9, 1.5) : 0;
  const pose = posed(rng, t.pose);
  // One body-unit scale from the sheet pose (as the character sheets do), so raised arms shrink the figure only when they must.
  const sheetParts = buildParts(ch, sheetPose());
  const bbox = partsBBox(sheetParts, IDENTITY);
  const unit = 0.84 * Math.min(size / (bbox.y1 - bbox.y0), size / (bbox.x1 - bbox.x0));
  const parts = buildParts(ch, pose);
  // The character sheets' line weight (2 px at 128²): the bundled VAE learnt to redraw it.
  const r = renderParts(parts, size, size, placement(parts, pose, unit, size, size), Math.max(2, Math.round(size / 170)));
  const image = colourise(r.labels, r.coverage, r.partColors, size, size);
  const partIndex = new Int8Array(r.partColors.length).fill(-1);
  parts.forEach((p, k) => {
    partIndex[k + 1] = p.slot === 'hair' ? 0 : p.slot === 'shirt' || p.slot === 'sleeve' ? 1 : p.slot === 'pants' ? 2 : -1;
  });
  const partOf = new Int8Array(size * size).fill(-1);
  for (let i = 0; i < size * size; i++) if (r.coverage[i] < 128) partOf[i] = partIndex[r.labels[i]];
  return { tags: t, image, partOf };
}

/** A caption for training: the tags, each kept whole, in a shuffled order with probability `shuffle`. */
export function trainingCaption(t: CharacterTags, uniform: () => number, shuffle: number): string {
  const list = tagList(t);
  if (uniform() < shuffle) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
  }
  return list.join(', ');
}

export { createRng };

/**
 * One colour triple (hair, shirt, pants) in ten is held out of training, so the evaluation can ask for
 * combinations the model never saw (its parts were all seen, in other combinations).
 */
export function isHeldOutCombination(t: Pick<CharacterTags, 'hair' | 'shirt' | 'pants'>): boolean {
  const code = COLOR_NAMES.indexOf(t.hair) * 100 + COLOR_NAMES.indexOf(t.shirt) * 10 + COLOR_NAMES.indexOf(t.pants);
  return (Math.imul(code + 17, 2654435761) >>> 0) % 10 === 3;
}
