// Every node class the workflow layer knows, by ComfyUI class name.
import type { NodeDef } from './nodeSpec.ts';
import { LoadImage, LoadImageMask } from './nodes/loadImage.ts';
import { PreviewImage, SaveImage } from './nodes/saveImage.ts';
import { EmptyImage, ImageBlend, ImageCrop, ImageInvert, ImageScale, ImageScaleBy } from './nodes/imageOps.ts';
import { EmptyLatentImage, RepeatLatentBatch, SetLatentNoiseMask } from './nodes/latentOps.ts';
import { GrowMask, ImageToMask, InvertMask, MaskToImage } from './nodes/maskOps.ts';

const ALL: readonly NodeDef[] = [
  LoadImage, LoadImageMask, SaveImage, PreviewImage,
  ImageInvert, EmptyImage, ImageScale, ImageScaleBy, ImageBlend, ImageCrop,
  ImageToMask, MaskToImage, InvertMask, GrowMask,
  EmptyLatentImage, RepeatLatentBatch, SetLatentNoiseMask,
];

let registry: Map<string, NodeDef> | undefined;

export function nodeRegistry(): ReadonlyMap<string, NodeDef> {
  registry ??= new Map(ALL.map((d) => [d.name, d]));
  return registry;
}
