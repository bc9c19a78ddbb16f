// The self-supervised data pipeline of SDRO training on a user's folder of pictures:
//  1. describe every picture by an embedding — the image encoder's pooled output when a CLIP vision
//     model is given (the paper mines with CLIP), otherwise a built-in descriptor (below);
//  2. mine pairs: every ordered pair (reference i, target j ≠ i) whose cosine similarity ≥ threshold;
//  3. make the target's blueprint with the inference path's recipe and drop pairs whose blueprint is
//     near-empty (line pixels below a fraction of the area), since they teach nothing about lines.
// Built-in descriptor: a 4×4×4 RGB colour histogram (what the character wears) plus an 8×8 grey
// thumbnail (where things are), each L2-normalised and concatenated with equal weight.
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

export function builtinDescriptor(img: Image): Descriptor {
  const c = img.channels;
  const hist = new Float32Array(64);
  for (let i = 0; i < img.data.length; i += c) {
    const r = img.data[i] >> 6;
    const g = img.data[i + (c >= 3 ? 1 : 0)] >> 6;
    const b = img.data[i + (c >= 3 ? 2 : 0)] >> 6;
    hist[r * 16 + g * 4 + b] += 1;
  }
  // Square roots damp the white page's dominance (the Hellinger kernel on histograms).
  const h = normalise(hist.map(Math.sqrt));
  const thumb = toGray(resizeImage(img, 8, 8, 'area'));
  const t = Float32Array.from(thumb.data, (v) => v / 255);
  let mean = 0;
  for (const v of t) mean += v / t.length;
  const tn = normalise(t.map((v) => v - mean));
  const out = new Float32Array(h.length + tn.length);
  out.set(h.map((v) => v / Math.SQRT2));
  out.set(tn.map((v) => v / Math.SQRT2), h.length);
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
