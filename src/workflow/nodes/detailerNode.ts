// InkflowDetailer: re-generates regions of an image at a higher resolution and pastes them back (the
// comic study's face detailer). Regions come from a YOLO-style ONNX detector in models/detectors, or from
// the bounding box of a mask.
import { loadOnnxDetector, type Detector } from '../../pipelines/detailer/detector.ts';
import { detail, type Box } from '../../pipelines/detailer/detailer.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { GENERATE_DEFAULTS } from '../../pipelines/generate/defaults.ts';
import { listModels, resolveModel } from '../folders.ts';
import type { NodeDef } from '../nodeSpec.ts';
import { batchEntryToImage, imagesToBatch, type ImageBatch, type MaskBatch } from '../values.ts';
import { withLoraView, type ModelHandle } from './modelHandles.ts';

/** The bounding box of mask > 0.5 (first mask of the batch), or none. */
function maskBox(m: MaskBatch): Box[] {
  let x1 = Infinity, y1 = Infinity, x2 = -1, y2 = -1;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x] <= 0.5) continue;
      x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1);
    }
  }
  return x2 < 0 ? [] : [{ x1, y1, x2, y2 }];
}

export const InkflowDetailer: NodeDef = {
  name: 'InkflowDetailer',
  displayName: 'Detailer (faces, regions)',
  description: 'Re-generates each detected region (or the masked area) at a higher resolution with img2img and pastes it back, feathered.',
  category: 'inkflow/detailer',
  pythonModule: 'inkflow',
  required: {
    image: { type: 'IMAGE', link: true },
    model: { type: 'MODEL', link: true, tooltip: 'The checkpoint (with its LoRAs) used for the text and the img2img of each region.' },
    prompt: { type: 'STRING', multiline: true, default: '' },
    negative: { type: 'STRING', multiline: true, default: '' },
    seed: { type: 'INT', default: 0, min: 0, max: 18446744073709551615, extra: { control_after_generate: true } },
    steps: { type: 'INT', default: GENERATE_DEFAULTS.steps, min: 1, max: 10000 },
    cfg: { type: 'FLOAT', default: GENERATE_DEFAULTS.cfg, min: 0, max: 100, step: 0.1, round: 0.01 },
    sampler_name: { type: 'COMBO', options: COMFY_SAMPLERS },
    scheduler: { type: 'COMBO', options: COMFY_SCHEDULERS },
    denoise: { type: 'FLOAT', default: 0.45, min: 0.01, max: 1, step: 0.01 },
    guide_size: { type: 'INT', default: 512, min: 64, max: 4096, step: 8 },
    crop_factor: { type: 'FLOAT', default: 3, min: 1, max: 10, step: 0.1 },
  },
  optional: {
    detector_name: { type: 'COMBO', options: (env) => listModels(env, 'detectors'), tooltip: 'A YOLO-style ONNX detector (e.g. a face detector) in models/detectors.' },
    mask: { type: 'MASK', link: true, tooltip: 'Detail the bounding box of this mask instead of detecting.' },
    confidence: { type: 'FLOAT', default: 0.5, min: 0, max: 1, step: 0.01 },
  },
  outputs: [{ type: 'IMAGE' }],
  async run(v, ctx) {
    const model = v.model as ModelHandle;
    const image = batchEntryToImage(v.image as ImageBatch, 0);
    let boxes: Box[] | undefined;
    if (v.mask) boxes = maskBox(v.mask as MaskBatch);
    let detector: Detector | undefined;
    if (!boxes) {
      if (v.detector_name === undefined) throw new Error('InkflowDetailer needs a detector_name or a mask');
      const path = resolveModel(ctx.env, 'detectors', String(v.detector_name));
      detector = await ctx.models.get(`detector:${path}`, () => loadOnnxDetector(path, { provider: ctx.env.device ?? 'cpu' }), (d) => d.release());
    }
    const seed = typeof v.seed === 'bigint' ? v.seed : BigInt(Number(v.seed));
    const out = await withLoraView(model, (ckpt) => detail(ckpt, {
      image, boxes, detector, detect: { confidence: Number(v.confidence ?? 0.5) },
      prompt: String(v.prompt), negative: String(v.negative), seed, steps: Number(v.steps), cfg: Number(v.cfg),
      sampler: String(v.sampler_name), scheduler: String(v.scheduler), denoise: Number(v.denoise), guideSize: Number(v.guide_size), cropFactor: Number(v.crop_factor),
    }, { signal: ctx.signal, onProgress: (p) => p.stage === 'sample' && ctx.progress(p.step, p.total) }));
    return { outputs: [imagesToBatch([out.image])], ui: { inkflow_regions: out.regions.map((r) => ({ ...r })) } };
  },
};
