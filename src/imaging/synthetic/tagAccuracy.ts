// Does a picture show what its tag prompt asked for? A measure for the bundled text-to-image model that
// needs no second model: the figure sits in roughly the same place in every picture (centred, scaled
// to fit), so where each named part usually is can be learnt from the generator's own label maps.
//   colour of a part: over the pixels where that part is at least `minShare` of the time, drop paper
//     (near white) and lines (dark); classify every remaining pixel to its nearest named colour (CIELAB);
//     the part's colour is the most common class. A tag is followed when that class is the named colour.
//   arm pose: the picture's ink mask (not paper) is compared (correlation) to the mean ink mask of each
//     pose; the nearest mean is the measured pose.
// The same measure applied to the generator's own pictures of the same prompts gives its ceiling, and
// chance is 1/10 per colour and 1/3 per pose; both are reported beside the model's numbers.
import type { Image } from '../image.ts';
import { rgbToLab, deltaE, type Lab } from '../palette.ts';
import { ARM_POSES, COLOR_NAMES, NAMED_COLORS, TAGGED_PARTS, drawTaggedCharacter, sampleTags, createRng, type ArmPose, type CharacterTags, type TaggedPart } from './taggedCharacter.ts';

export interface PartLayout {
  size: number;
  /** Per part: the pixel indices where it usually is. */
  regions: Record<TaggedPart, Int32Array>;
  /** Per pose: mean ink mask (0..1 per pixel). */
  poseMeans: Record<ArmPose, Float32Array>;
}

const NAMED_LAB: Lab[] = COLOR_NAMES.map((n) => rgbToLab(...NAMED_COLORS[n]));

const isInk = (lab: Lab): boolean => !(lab[0] > 93 && Math.hypot(lab[1], lab[2]) < 8);

/** Learns the part regions (pixels where a part is at least `minShare` of its peak frequency) and pose masks from `count` generator pictures (seeds `seedBase`…). */
export function learnPartLayout(size: number, count: number, seedBase: number, minShare = 0.4): PartLayout {
  const n = size * size;
  const freq = TAGGED_PARTS.map(() => new Float32Array(n));
  const poseSum = Object.fromEntries(ARM_POSES.map((p) => [p, new Float32Array(n)])) as Record<ArmPose, Float32Array>;
  const poseCount = Object.fromEntries(ARM_POSES.map((p) => [p, 0])) as Record<ArmPose, number>;
  for (let i = 0; i < count; i++) {
    const c = drawTaggedCharacter(seedBase + i, size);
    for (let p = 0; p < n; p++) if (c.partOf[p] >= 0) freq[c.partOf[p]][p] += 1 / count;
    const ink = inkMask(c.image);
    const acc = poseSum[c.tags.pose];
    for (let p = 0; p < n; p++) acc[p] += ink[p];
    poseCount[c.tags.pose]++;
  }
  const regions = {} as Record<TaggedPart, Int32Array>;
  TAGGED_PARTS.forEach((part, k) => {
    // Relative to the part's own peak: hair moves with the head tilt, so its pixels are shared less often than the torso's.
    const peak = freq[k].reduce((m, v) => Math.max(m, v), 0);
    const idx: number[] = [];
    for (let p = 0; p < n; p++) if (freq[k][p] >= minShare * peak) idx.push(p);
    regions[part] = Int32Array.from(idx);
  });
  for (const pose of ARM_POSES) {
    const m = poseSum[pose];
    for (let p = 0; p < n; p++) m[p] /= Math.max(1, poseCount[pose]);
  }
  return { size, regions, poseMeans: poseSum };
}

function inkMask(img: Image): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const d = img.data;
    const c = img.channels;
    out[p] = isInk(rgbToLab(d[p * c], d[p * c + 1], d[p * c + 2])) ? 1 : 0;
  }
  return out;
}

/** The most common named colour among the part's region pixels that are neither paper nor line; undefined when none. */
export function measuredPartColor(img: Image, region: Int32Array): string | undefined {
  const votes = new Int32Array(COLOR_NAMES.length);
  const d = img.data;
  const c = img.channels;
  for (const p of region) {
    const lab = rgbToLab(d[p * c], d[p * c + 1], d[p * c + 2]);
    if (!isInk(lab) || lab[0] < 22) continue;
    let best = 0;
    let bestD = Infinity;
    NAMED_LAB.forEach((q, k) => {
      const dist = deltaE(lab, q);
      if (dist < bestD) {
        bestD = dist;
        best = k;
      }
    });
    votes[best]++;
  }
  let top = -1;
  for (let k = 0; k < votes.length; k++) if (votes[k] > 0 && (top < 0 || votes[k] > votes[top])) top = k;
  return top < 0 ? undefined : COLOR_NAMES[top];
}

export function measuredPose(img: Image, layout: PartLayout): ArmPose {
  const ink = inkMask(img);
  let best: ArmPose = ARM_POSES[0];
  let bestScore = -Infinity;
  for (const pose of ARM_POSES) {
    const m = layout.poseMeans[pose];
    let dot = 0, nm = 0, ni = 0;
    const mean = m.reduce((s, v) => s + v, 0) / m.length;
    const imean = ink.reduce((s, v) => s + v, 0) / ink.length;
    for (let p = 0; p < m.length; p++) {
      dot += (m[p] - mean) * (ink[p] - imean);
      nm += (m[p] - mean) ** 2;
      ni += (ink[p] - imean) ** 2;
    }
    const score = dot / Math.sqrt(nm * ni + 1e-12);
    if (score > bestScore) {
      bestScore = score;
      best = pose;
    }
  }
  return best;
}

export interface TagScore {
  /** Per part: was the measured colour the named one. */
  parts: Record<TaggedPart, boolean>;
  pose: boolean;
  measured: { colors: Record<TaggedPart, string | undefined>; pose: ArmPose };
}

export function scoreTags(img: Image, tags: CharacterTags, layout: PartLayout): TagScore {
  const colors = {} as Record<TaggedPart, string | undefined>;
  const parts = {} as Record<TaggedPart, boolean>;
  for (const part of TAGGED_PARTS) {
    colors[part] = measuredPartColor(img, layout.regions[part]);
    parts[part] = colors[part] === tags[part];
  }
  const pose = measuredPose(img, layout);
  return { parts, pose: pose === tags.pose, measured: { colors, pose } };
}

export interface TagAccuracy {
  prompts: number;
  /** Fraction of (prompt, part) colour tags followed, per part and over all three. */
  perPart: Record<TaggedPart, number>;
  colour: number;
  pose: number;
  /** All three colours right in one picture. */
  allColours: number;
}

export function summarise(scores: readonly TagScore[]): TagAccuracy {
  const n = Math.max(1, scores.length);
  const perPart = {} as Record<TaggedPart, number>;
  for (const part of TAGGED_PARTS) perPart[part] = scores.filter((s) => s.parts[part]).length / n;
  return {
    prompts: scores.length,
    perPart,
    colour: TAGGED_PARTS.reduce((s, p) => s + perPart[p], 0) / TAGGED_PARTS.length,
    pose: scores.filter((s) => s.pose).length / n,
    allColours: scores.filter((s) => TAGGED_PARTS.every((p) => s.parts[p])).length / n,
  };
}

/** Evaluation prompts: tag sets from seeds `seedBase`… whose colour triple was held out of training. */
export function heldOutPrompts(count: number, seedBase: number, heldOut: (t: CharacterTags) => boolean): { seed: number; tags: CharacterTags }[] {
  const out: { seed: number; tags: CharacterTags }[] = [];
  for (let s = seedBase; out.length < count; s++) {
    const tags = sampleTags(createRng(s));
    if (heldOut(tags)) out.push({ seed: s, tags });
  }
  return out;
}
