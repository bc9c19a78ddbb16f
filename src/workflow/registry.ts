// Every node class the workflow layer knows, by ComfyUI class name.
import type { NodeDef } from './nodeSpec.ts';
import { LoadImage, LoadImageMask } from './nodes/loadImage.ts';
import { PreviewImage, SaveImage } from './nodes/saveImage.ts';
import { CheckpointLoaderSimple, CLIPSetLastLayer, ControlNetLoader, LoraLoader, ModelSamplingDiscrete } from './nodes/loaders.ts';
import { CLIPTextEncode, CLIPTextEncodeSDXL, CLIPTextEncodeSDXLRefiner, ConditioningCombine, ConditioningSetArea, ControlNetApply, ControlNetApplyAdvanced, InpaintModelConditioning, KSampler, KSamplerAdvanced, VAEDecode, VAEEncode, VAEEncodeForInpaint } from './nodes/generationNodes.ts';
import { InkflowFlatColorize, InkflowLineArt, InkflowPaletteLock, InkflowReferenceColorize, InkflowSegmentBackground, InkflowSketchFidelityControlNet, InkflowT2IAdapterApply } from './nodes/inkflowNodes.ts';
import { InkflowDetailer } from './nodes/detailerNode.ts';
import { CLIPVisionEncode, CLIPVisionLoader } from './nodes/clipVision.ts';
import { EmptyImage, ImageBlend, ImageCompositeMasked, ImageCrop, ImageInvert, ImageScale, ImageScaleBy } from './nodes/imageOps.ts';
import { EmptyLatentImage, LatentUpscale, RepeatLatentBatch, SetLatentNoiseMask } from './nodes/latentOps.ts';
import { GrowMask, ImageToMask, InvertMask, MaskToImage } from './nodes/maskOps.ts';

const ALL: readonly NodeDef[] = [
  LoadImage, LoadImageMask, SaveImage, PreviewImage,
  ImageInvert, EmptyImage, ImageScale, ImageScaleBy, ImageBlend, ImageCrop,
  ImageToMask, MaskToImage, InvertMask, GrowMask,
  EmptyLatentImage, RepeatLatentBatch, SetLatentNoiseMask, LatentUpscale, ImageCompositeMasked,
  CheckpointLoaderSimple, LoraLoader, CLIPSetLastLayer, ControlNetLoader, ModelSamplingDiscrete, CLIPVisionLoader, CLIPVisionEncode,
  CLIPTextEncode, CLIPTextEncodeSDXL, CLIPTextEncodeSDXLRefiner, ConditioningCombine, ConditioningSetArea, ControlNetApply, ControlNetApplyAdvanced, InpaintModelConditioning, KSampler, KSamplerAdvanced, VAEDecode, VAEEncode, VAEEncodeForInpaint,
  InkflowFlatColorize, InkflowReferenceColorize, InkflowPaletteLock, InkflowLineArt, InkflowSegmentBackground,
  InkflowSketchFidelityControlNet, InkflowT2IAdapterApply, InkflowDetailer,
];

let registry: Map<string, NodeDef> | undefined;

export function nodeRegistry(): ReadonlyMap<string, NodeDef> {
  registry ??= new Map(ALL.map((d) => [d.name, d]));
  return registry;
}
