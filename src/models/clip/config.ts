// CLIP text and vision configurations from transformers' config.json (CLIPTextConfig / CLIPVisionConfig, or
// the text_config / vision_config halves of a full CLIPConfig). Defaults are transformers' own.
import { z } from 'zod';

export class ClipConfigError extends Error {
  override name = 'ClipConfigError';
}

const positiveInt = z.number().int().positive();
const hiddenAct = z.enum(['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh']);
export type ClipActivation = z.infer<typeof hiddenAct>;

export const clipTextConfigSchema = z.object({
  vocab_size: positiveInt.default(49408),
  hidden_size: positiveInt.default(512),
  intermediate_size: positiveInt.default(2048),
  projection_dim: positiveInt.default(512),
  num_hidden_layers: positiveInt.default(12),
  num_attention_heads: positiveInt.default(8),
  max_position_embeddings: positiveInt.default(77),
  hidden_act: hiddenAct.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  /**
   * transformers ≥ 4.31 pools at the first `eos_token_id`; with the legacy value 2 (and in 4.27 always) it
   * pools at argmax(input_ids), which is the EOS for CLIP's vocabulary (49407 is the largest id).
   */
  eos_token_id: z.number().int().nullable().default(2),
});
export type ClipTextConfig = z.output<typeof clipTextConfigSchema>;

export const clipVisionConfigSchema = z.object({
  hidden_size: positiveInt.default(768),
  intermediate_size: positiveInt.default(3072),
  projection_dim: positiveInt.default(512),
  num_hidden_layers: positiveInt.default(12),
  num_attention_heads: positiveInt.default(12),
  num_channels: positiveInt.default(3),
  image_size: positiveInt.default(224),
  patch_size: positiveInt.default(32),
  hidden_act: hiddenAct.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
});
export type ClipVisionConfig = z.output<typeof clipVisionConfigSchema>;

function section(raw: unknown, key: 'text_config' | 'vision_config', source: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ClipConfigError(`${source}: expected a JSON object`);
  const obj = raw as Record<string, unknown>;
  const nested = obj[key];
  if (nested && typeof nested === 'object') {
    // A full CLIPConfig: projection_dim lives at the top level.
    return { ...(nested as Record<string, unknown>), ...(obj.projection_dim !== undefined ? { projection_dim: obj.projection_dim } : {}) };
  }
  return obj;
}

function parseWith<S extends z.ZodType>(schema: S, raw: Record<string, unknown>, what: string, source: string): z.output<S> {
  const res = schema.safeParse(raw);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ClipConfigError(`${source}: invalid ${what} config: ${issues}`);
  }
  return res.data;
}

function checkHeads(hidden: number, heads: number, source: string): void {
  if (hidden % heads !== 0) throw new ClipConfigError(`${source}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
}

export function parseClipTextConfig(raw: unknown, source = 'CLIP text config'): ClipTextConfig {
  const obj = section(raw, 'text_config', source);
  if (obj.model_type !== undefined && obj.model_type !== 'clip_text_model') {
    throw new ClipConfigError(`${source}: model_type is "${String(obj.model_type)}", expected "clip_text_model"`);
  }
  const cfg = parseWith(clipTextConfigSchema, obj, 'CLIP text', source);
  checkHeads(cfg.hidden_size, cfg.num_attention_heads, source);
  return cfg;
}

export function parseClipVisionConfig(raw: unknown, source = 'CLIP vision config'): ClipVisionConfig {
  const obj = section(raw, 'vision_config', source);
  if (obj.model_type !== undefined && obj.model_type !== 'clip_vision_model') {
    throw new ClipConfigError(`${source}: model_type is "${String(obj.model_type)}", expected "clip_vision_model"`);
  }
  const cfg = parseWith(clipVisionConfigSchema, obj, 'CLIP vision', source);
  checkHeads(cfg.hidden_size, cfg.num_attention_heads, source);
  if (cfg.image_size % cfg.patch_size !== 0) throw new ClipConfigError(`${source}: image_size ${cfg.image_size} is not a multiple of patch_size ${cfg.patch_size}`);
  return cfg;
}
