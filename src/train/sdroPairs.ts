// The self-supervised data pipeline of SDRO training on a user's folder of pictures:
//  1. describe every picture by an embedding — the image encoder's pooled output when a CLIP vision
//     model is given (the paper mines with CLIP), otherwise a built-in descriptor (below);
//  2. mine pairs: every ordered pair (reference i, target j ≠ i) whose cosine similarity ≥ threshold;
//  3. make the target's blueprint with the inference path's recipe and drop pairs whose blueprint is
//     near-empty (line pixels below a fraction of the area), since they teach nothing about lines.
// Built-in descriptor: an 8×8×8 RGB histogram of the coloured pixels (what the character wears; paper
// and ink excluded) plus an 8×8 grey thumbnail (where things are), each L2-normalised, weighted 0.85/0.15.
import type { Image } from '../imaging/image.ts';
import { resizeImage } from '../imaging/resize.ts';
import { toGray } from '../imaging/grayscale.ts';

/** An L2-normalised embedding of one picture. */
export type Descriptor = Float32Array;

function normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

const LEVELS = 8;
/** Weight of the colour histogram in the cosine (the layout thumbnail gets the rest). */
const COLOUR_WEIGHT = 0.85;

export function builtinDescriptor(img: Image): Descriptor {
  const c = img.channels;
  const hist = new Float32Array(LEVELS ** 3);
  const q = (v: number) => Math.min(LEVELS - 1, Math.floor((v * LEVELS) / 256));
  for (let i = 0; i < img.data.length; i += c) {
    const r = img.data[i];
    const g = img.data[i + (c >= 3 ? 1 : 0)];
    const b = img.data[i + (c >= 3 ? 2 : 0)];
    // Paper and ink say nothing about who is drawn: only coloured pixels vote.
    if ((r > 235 && g > 235 && b > 235) || Math.max(r, g, b) < 40) continue;
    hist[(q(r) * LEVELS + q(g)) * LEVELS + q(b)] += 1;
  }
  // Square roots damp the largest areas (the Hellinger kernel on histograms).
  const h = normalise(hist.map(Math.sqrt));
  const thumb = toGray(resizeImage(img, 8, 8, 'area'));
  const t = Float32Array.from(thumb.data, (v) => v / 255);
  let mean = 0;
  for (const v of t) mean += v / t.length;
  const tn = normalise(t.map((v) => v - mean));
  const out = new Float32Array(h.length + tn.length);
  out.set(h.map((v) => v * Math.sqrt(COLOUR_WEIGHT)));
  out.set(tn.map((v) => v * Math.sqrt(1 - COLOUR_WEIGHT)), h.length);
  return out;
}

/** L2-normalises an embedding from a model (e.g. CLIP pooler_output). */
export function embeddingDescriptor(v: Float32Array): Descriptor {
  return normalise(Float32Array.from(v));
}

export function cosine(a: Descriptor, b: Descriptor): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export interface MinedPair {
  reference: number;
  target: number;
  similarity: number;
}

/** Every ordered pair of distinct pictures with cosine similarity ≥ threshold, most similar first. */
export function minePairs(descriptors: readonly Descriptor[], threshold: number): MinedPair[] {
  const pairs: MinedPair[] = [];
  for (let i = 0; i < descriptors.length; i++) {
    for (let j = i + 1; j < descriptors.length; j++) {
      const s = cosine(descriptors[i], descriptors[j]);
      if (s >= threshold) pairs.push({ reference: i, target: j, similarity: s }, { reference: j, target: i, similarity: s });
    }
  }
  return pairs.sort((a, b) => b.similarity - a.similarity || a.reference - b.reference || a.target - b.target);
}
