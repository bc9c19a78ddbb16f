// The `inkflow` tEXt record of a generated PNG, parsed (not cast) when `--from` reads it back: ranges and
// choices come from the node declarations (KSampler, CLIPSetLastLayer, VAEEncodeForInpaint, …).
import { z } from 'zod';
import type { GenerationRecord } from '../pipelines/generate/comfyPrompt.ts';
import type { WorkflowEnv } from '../workflow/api.ts';
import { inputSpec, isLink, literalSchema } from '../workflow/nodeSpec.ts';
import { nodeRegistry } from '../workflow/registry.ts';

const NO_ENV: WorkflowEnv = { inputDir: '', outputDir: '', tempDir: '', modelDirs: {}, limits: { maxImagePixels: 0, maxInputBytes: 0 } };

function declared(node: string, input: string): z.ZodType {
  const spec = inputSpec(nodeRegistry().get(node)!, input);
  if (!spec || isLink(spec)) throw new Error(`internal: ${node}.${input} is not a literal input`);
  return literalSchema(spec, NO_ENV);
}

const int = (schema: z.ZodType) => z.number().int().pipe(schema as unknown as z.ZodType<number, number>);

let schema: z.ZodType | undefined;

function recordSchema(): z.ZodType {
  const control = z.object({
    path: z.string(), hint: z.string(),
    strength: declared('ControlNetApplyAdvanced', 'strength'),
    startPercent: declared('ControlNetApplyAdvanced', 'start_percent'),
    endPercent: declared('ControlNetApplyAdvanced', 'end_percent'),
    guessMode: z.boolean().optional(),
  });
  schema ??= z.looseObject({
    kind: z.literal('generate'),
    model: z.string(),
    prompt: z.string(),
    negative: z.string(),
    seed: z.string().regex(/^\d+$/).refine((s) => BigInt(s) < 2n ** 64n, 'seed must be below 2^64'),
    steps: int(declared('KSampler', 'steps')),
    cfg: declared('KSampler', 'cfg'),
    sampler: declared('KSampler', 'sampler_name'),
    scheduler: declared('KSampler', 'scheduler'),
    denoise: declared('KSampler', 'denoise'),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    batch: int(declared('EmptyLatentImage', 'batch_size')),
    clipSkip: z.number().int().min(1).max(24),
    loras: z.array(z.object({ path: z.string(), strengthModel: declared('LoraLoader', 'strength_model'), strengthClip: declared('LoraLoader', 'strength_clip') })),
    controlNets: z.array(control),
    adapters: z.array(z.object({ path: z.string(), image: z.string(), scale: declared('InkflowT2IAdapterApply', 'scale') })).optional(),
    init: z.string().optional(),
    mask: z.string().optional(),
    growMaskBy: int(declared('VAEEncodeForInpaint', 'grow_mask_by')).optional(),
    inpaintMode: z.enum(['vae-encode-for-inpaint', 'noise-mask']).optional(),
    sketchFidelity: declared('InkflowSketchFidelityControlNet', 'fidelity').optional(),
    prediction: z.enum(['eps', 'v', 'v_prediction']).optional(),
    maskChannel: z.enum(['red', 'alpha']).optional(),
    sdxl: z.object({
      kind: z.enum(['base', 'refiner']),
      promptL: z.string().optional(),
      negativeL: z.string().optional(),
      width: int(declared('CLIPTextEncodeSDXL', 'width')),
      height: int(declared('CLIPTextEncodeSDXL', 'height')),
      cropW: int(declared('CLIPTextEncodeSDXL', 'crop_w')),
      cropH: int(declared('CLIPTextEncodeSDXL', 'crop_h')),
      targetWidth: int(declared('CLIPTextEncodeSDXL', 'target_width')),
      targetHeight: int(declared('CLIPTextEncodeSDXL', 'target_height')),
      aestheticScore: declared('CLIPTextEncodeSDXLRefiner', 'ascore'),
      negativeAestheticScore: declared('CLIPTextEncodeSDXLRefiner', 'ascore'),
    }).optional(),
  });
  return schema;
}

/** The record, or a readable list of what is wrong with it. */
export function parseGenerationRecord(value: unknown): { ok: true; record: GenerationRecord } | { ok: false; problems: string } {
  const r = recordSchema().safeParse(value);
  if (r.success) return { ok: true, record: r.data as GenerationRecord };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ') };
}
