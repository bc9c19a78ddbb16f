// Turning (reference, target, blueprint) pictures into SDRO training examples, and the synthetic
// sheet → pose pairs the bundled default model learns from. The blueprint is made exactly as the
// inference path makes it (imaging/lineart.ts, which pipelines/colorize/blueprint.ts calls): from a
// colour target by adaptiveThreshold(MEAN_C, 5, 7) + inversion (the paper's recipe), or from line art
// by inversion to white-on-black; its tensor is x/255 planar like blueprintTensor.ts at a size that is
// already a multiple of the VAE factor.
import type { Image } from '../imaging/image.ts';
import { blueprintFromColour, prepareLineArt } from '../imaging/lineart.ts';
import { generateCharacterPair } from '../imaging/synthetic/characterSheet.ts';
import { preprocessClipImage } from '../models/clip/imageProcessor.ts';
import type { VaeModel } from '../models/vae/loadVae.ts';
import type { SdroArchitecture } from './sdroModelFiles.ts';
import type { SdroExample } from './sdroTraining.ts';
import { writeImageChw } from './syntheticImages.ts';

/** White-on-black blueprint image → [3, H, W] in [0, 1]. */
export function blueprintChw(blueprint: Image): Float32Array {
  const plane = blueprint.width * blueprint.height;
  const c = blueprint.channels;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) out[k * plane + i] = blueprint.data[i * c + (c >= 3 ? k : 0)] / 255;
  }
  return out;
}

/** Fraction of blueprint pixels that are lines (> 127): the cleaning step drops near-empty ones. */
export function blueprintLineArea(blueprint: Image): number {
  const c = blueprint.channels;
  let lines = 0;
  for (let i = 0; i < blueprint.data.length; i += c) if (blueprint.data[i] > 127) lines++;
  return lines / (blueprint.width * blueprint.height);
}

export interface SdroPictures {
  reference: Image;
  target: Image;
  /** RGB, white lines on black. */
  blueprint: Image;
}

/** Encodes one example: CLIP pixels of the reference, blueprint tensor, scaled VAE mean of the target. */
export async function sdroExample(p: SdroPictures, arch: SdroArchitecture, vae: VaeModel): Promise<SdroExample> {
  const { width: w, height: h } = p.target;
  if (p.blueprint.width !== w || p.blueprint.height !== h) throw new Error(`SDRO example: blueprint ${p.blueprint.width}×${p.blueprint.height} differs from target ${w}×${h}`);
  const image = new Float32Array(3 * w * h);
  writeImageChw(p.target, image, 0);
  const enc = await vae.encode({ shape: [1, 3, h, w], data: image });
  const s = vae.config.scaling_factor;
  return {
    pixelValues: preprocessClipImage(p.reference, arch.processor).data,
    blueprint: blueprintChw(p.blueprint),
    latent: enc.mean.data.map((v) => v * s),
  };
}

/**
 * The synthetic pair of `seed` at `size`²: the character sheet (reference), the same character in
 * another pose (target) and that pose's blueprint — from its line art for even seeds (what users give
 * at inference), from the coloured target by the paper's threshold recipe for odd seeds.
 */
export function syntheticSdroPictures(seed: number, size: number): SdroPictures & { lineArt: Image } {
  const pair = generateCharacterPair({ seed, width: size });
  const blueprint = seed % 2 === 0 ? prepareLineArt(pair.targetLineArt, { channels: 3 }) : blueprintFromColour(pair.target);
  return { reference: pair.reference, target: pair.target, blueprint, lineArt: pair.targetLineArt };
}
