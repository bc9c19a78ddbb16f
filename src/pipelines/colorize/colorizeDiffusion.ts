// ColorizeDiffusion's generate() at the tensor level (tellurion-kanata/colorizeDiffusion
// refnet/models/switch.py prepare_conditions, basemodel.py generate/sample, sampling/denoiser.py
// DiffuserDenoiser), checked against outputs of the original code (shared/golden/colorize_diffusion):
//   noise      torch.manual_seed(seed); one randn_like(reference) drawn and discarded (prepare_conditions'
//              cond_aug term, cond_aug = 0); x_T = torch.randn(1, 4, H/8, W/8) on CPU · init_noise_sigma
//   context    by mode (models/splitAttention/modes.ts), from the reference's OpenCLIP local tokens e
//   hints      sketch_encoder([sketch, blank sketch (all −1)]) · sketch strength, computed once
//   branches   batched in this order: cond (context, sketch), zero reference (context of zeros, sketch),
//              blank sketch (context, blank hints); the sketch mask repeats for each
//   guidance   (GuidanceFlag): both scales > 1 → dual CFG over the batch of 3,
//              (u0 + (c − u0)·s_r + u1 + (c − u1)·s_s)·0.5; only one > 1 → ordinary CFG u + (c − u)·s with that
//              branch as u (batch 2); neither → one pass. The demo's default sketch scale 1.0 therefore runs
//              reference-only CFG at 4.0, not the dual formula with s_s = 1 (which would halve the guidance).
//   scheduler  DPMSolverMultistep (configs/scheduler_cfgs/dpm.yaml: scaled_linear 0.00085–0.012, steps_offset 1,
//              leading spacing), prediction type per checkpoint (the demo: "eps" in the file name → ε, else v)
//   decode     first_stage_model.decode(z · (1/0.18215))
import type { ColorizeDiffusionModel, ColorizeUNetShapes } from '../../models/splitAttention/colorizeModel.ts';
import { modeFlags, type ColorizeMode } from '../../models/splitAttention/modes.ts';
import type { ColorizeDiffusionCheckpoint } from './colorizeDiffusionCheckpoint.ts';
import { hintShapes } from '../../models/splitAttention/splitUNet.ts';
import { SKETCH_ENCODER_SCALE } from '../../models/splitAttention/sketchEncoder.ts';
import { resizeBicubicHost } from '../../models/splitAttention/bicubicResize.ts';
import { createDPMSolverMultistep } from '../../sampling/diffusers/index.ts';
import type { DiffusersScheduler } from '../../sampling/diffusers/types.ts';
import { createTorchGenerator } from '../../sampling/torchRandom.ts';
import { assertFinite } from '../../sampling/finiteCheck.ts';

export const COLORIZE_DIFFUSION_DEFAULTS = {
  /** ts_r: reference-mask threshold (background = reference where mask < ts_r). */
  referenceThreshold: 0.5,
  /** ts_s: sketch-mask threshold (foreground branch where mask > ts_s). */
  sketchThreshold: 0.05,
  referenceGuidance: 4.0,
  sketchGuidance: 1.0,
  steps: 20,
} as const;

/** refnet configs/scheduler_cfgs/dpm.yaml for diffusers' DPMSolverMultistepScheduler, plus the defaults of the
 * diffusers the original pins (v0.31): the last step goes to σ = 0 (final_sigmas_type "zero"), i.e. lands on x0. */
export const COLORIZE_DIFFUSION_SCHEDULER = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  timestep_spacing: 'leading',
  prediction_type: 'epsilon',
  solver_order: 2,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  final_sigmas_type: 'zero',
} as const;

export class ColorizeDiffusionError extends Error {
  override name = 'ColorizeDiffusionError';
}

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const f32 = Math.fround;

/** Classifier-free guidance as torch computes it in float32: u + (c − u)·s. */
export function cfg(c: Float32Array, u: Float32Array, s: number): Float32Array {
  sameLength(c, u);
  const out = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = f32(u[i] + f32(f32(c[i] - u[i]) * s));
  return out;
}

/** Dual CFG: (u0 + s_r(c − u0) + u1 + s_s(c − u1)) / 2, u0 = zero reference, u1 = blank sketch; float32 steps. */
export function dualCfg(c: Float32Array, u0: Float32Array, u1: Float32Array, sRef: number, sSketch: number): Float32Array {
  sameLength(c, u0);
  sameLength(c, u1);
  const out = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) {
    const a = f32(u0[i] + f32(f32(c[i] - u0[i]) * sRef));
    const b = f32(f32(a + u1[i]) + f32(f32(c[i] - u1[i]) * sSketch));
    out[i] = f32(b * 0.5);
  }
  return out;
}

function sameLength(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new ColorizeDiffusionError(`guidance: predictions differ in size (${a.length} vs ${b.length})`);
}

export type GuidanceBranch = 'cond' | 'zeroReference' | 'blankSketch';

/** The UNet branches a step runs, in batch order, for the guidance scales (the original's GuidanceFlag rule). */
export function guidanceBranches(referenceGuidance: number, sketchGuidance: number): GuidanceBranch[] {
  const out: GuidanceBranch[] = ['cond'];
  if (referenceGuidance > 1) out.push('zeroReference');
  if (sketchGuidance > 1) out.push('blankSketch');
  return out;
}

/** Combines the branch predictions (concatenated in `branches` order) into one noise prediction. */
export function combineGuidance(pred: Float32Array, branches: readonly GuidanceBranch[], referenceGuidance: number, sketchGuidance: number): Float32Array {
  const n = pred.length / branches.length;
  const part = (b: GuidanceBranch) => pred.subarray(branches.indexOf(b) * n, (branches.indexOf(b) + 1) * n);
  if (branches.length === 1) return pred.slice();
  if (branches.length === 3) return dualCfg(part('cond'), part('zeroReference'), part('blankSketch'), referenceGuidance, sketchGuidance);
  return branches[1] === 'zeroReference' ? cfg(part('cond'), part('zeroReference'), referenceGuidance) : cfg(part('cond'), part('blankSketch'), sketchGuidance);
}

/** Background reference as the original prepares it: where(mask < ts_r, reference, 1) on [−1, 1] pixels (1 = white). */
export function backgroundReference(reference: F32Tensor, referenceMask: F32Tensor, threshold: number = COLORIZE_DIFFUSION_DEFAULTS.referenceThreshold): F32Tensor {
  const [n, c, h, w] = reference.shape;
  if (reference.shape.length !== 4 || referenceMask.shape.join(',') !== [n, 1, h, w].join(',')) {
    throw new ColorizeDiffusionError(`reference mask must be [${n},1,${h},${w}] for a reference [${reference.shape.join(',')}], got [${referenceMask.shape.join(',')}]`);
  }
  const ts = f32(threshold);
  const out = new Float32Array(reference.data.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) {
    const k = (b * c + ch) * h * w + i;
    out[k] = referenceMask.data[b * h * w + i] < ts ? reference.data[k] : 1;
  }
  return { shape: reference.shape, data: out };
}

/** A sketch mask at image size → latent size (torch interpolate(scale_factor=1/8, mode="bicubic"), as the demo does). */
export function sketchMaskToLatent(mask: F32Tensor, scale = SKETCH_ENCODER_SCALE): F32Tensor {
  const [n, c, h, w] = mask.shape;
  if (mask.shape.length !== 4 || c !== 1 || h % scale !== 0 || w % scale !== 0) {
    throw new ColorizeDiffusionError(`sketch mask must be [N,1,H,W] with H and W multiples of ${scale}, got [${mask.shape.join(',')}]`);
  }
  return { shape: [n, 1, h / scale, w / scale], data: resizeBicubicHost(mask.data, h, w, h / scale, w / scale) };
}

function checkTensor(what: string, t: F32Tensor | undefined, shape: readonly number[]): void {
  if (!t) throw new ColorizeDiffusionError(`${what} is required (expected [${shape.join(',')}])`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (t.shape.join(',') !== shape.join(',') || t.data.length !== n) {
    throw new ColorizeDiffusionError(`${what} must be [${shape.join(',')}], got [${t.shape.join(',')}] with ${t.data.length} values`);
  }
}

function checkScale(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0) throw new ColorizeDiffusionError(`${name} must be a finite number ≥ 0, got ${v}`);
}

const repeat = (a: Float32Array, times: number) => {
  const out = new Float32Array(a.length * times);
  for (let k = 0; k < times; k++) out.set(a, k * a.length);
  return out;
};

export interface ColorizeConditionInputs {
  /** Sketch [1, 3, H, W] in [−1, 1], white lines (+1) on black (−1); H, W multiples of 8·2^levels. */
  sketch: F32Tensor;
  /** Reference [1, 3, Hr, Wr] in [−1, 1]. */
  reference: F32Tensor;
  /** Sketch foreground mask at latent size [1, 1, H/8, W/8] (split modes; see sketchMaskToLatent). */
  sketchMask?: F32Tensor;
  /** Reference foreground mask [1, 1, Hr, Wr] (bg_enhance / fig2fig). */
  referenceMask?: F32Tensor;
}

export interface ColorizeConditionSettings {
  mode: ColorizeMode;
  /** ts_r (default 0.5). */
  referenceThreshold?: number;
  /** ts_s (default 0.05). */
  sketchThreshold?: number;
  /** The demo's "sketch strength" (control_scale), multiplies the hints; 1 by default. */
  sketchStrength?: number;
}

/** The conditions of prepare_conditions, for one image (batch 1), and every intermediate tensor. */
export interface ColorizeConditions {
  /** Cross-attention context [1, L, D]. */
  context: F32Tensor;
  /** Latent-size sketch mask (split modes). */
  mask?: F32Tensor;
  /** Hints of the sketch and of the blank sketch, one per UNet hint. */
  hints: { sketch: Float32Array; blank: Float32Array }[];
  latentHeight: number;
  latentWidth: number;
  /** Named intermediate tensors (the golden's names): clip_preprocess0, clip_encode0_local_output,
   * clip_encode1_local_input, clip_encode1_local_output, thresh_embedder_output, bg_transformer_input,
   * bg_transformer_output, sketch_encoder_hint{k} (batch [sketch, blank]). */
  trace: Record<string, F32Tensor>;
}

function checkUnit(v: number, name: string): void {
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new ColorizeDiffusionError(`${name} must be in [0, 1], got ${v}`);
}

/** Which side of the UNet the sketch must divide: 8 (the sketch encoder) · 2^(downsampling levels). */
export function sketchUnit(config: { down: readonly { downsample: boolean }[] }): number {
  return SKETCH_ENCODER_SCALE * 2 ** config.down.filter((l) => l.downsample).length;
}

/** prepare_conditions: reference tokens, the mode's context, the hints and the mask. */
export async function prepareColorizeConditions(cp: ColorizeDiffusionCheckpoint, inputs: ColorizeConditionInputs, settings: ColorizeConditionSettings): Promise<ColorizeConditions> {
  const d = COLORIZE_DIFFUSION_DEFAULTS;
  const flags = modeFlags(settings.mode);
  const tsR = settings.referenceThreshold ?? d.referenceThreshold;
  const tsS = settings.sketchThreshold ?? d.sketchThreshold;
  checkUnit(tsR, 'referenceThreshold');
  checkUnit(tsS, 'sketchThreshold');
  const strength = settings.sketchStrength ?? 1;
  checkScale('sketchStrength', strength);
  const config = cp.unetConfig;
  const s = inputs.sketch;
  if (s.shape.length !== 4 || s.shape[0] !== 1 || s.shape[1] !== 3) throw new ColorizeDiffusionError(`sketch must be [1,3,H,W], got [${s.shape.join(',')}]`);
  const unit = sketchUnit(config);
  if (s.shape[2] % unit !== 0 || s.shape[3] % unit !== 0) throw new ColorizeDiffusionError(`sketch sides must be multiples of ${unit} (the latent must halve evenly at every level, as the original UNet needs), got ${s.shape[2]}×${s.shape[3]}`);
  checkTensor('sketch', s, [1, 3, s.shape[2], s.shape[3]]);
  const r = inputs.reference;
  if (r?.shape.length !== 4 || r.shape[0] !== 1 || r.shape[1] !== 3) throw new ColorizeDiffusionError(`reference must be [1,3,H,W], got [${r?.shape.join(',')}]`);
  checkTensor('reference', r, [1, 3, r.shape[2], r.shape[3]]);
  const h = s.shape[2] / SKETCH_ENCODER_SCALE;
  const w = s.shape[3] / SKETCH_ENCODER_SCALE;
  if (flags.split) checkTensor('sketchMask (latent size)', inputs.sketchMask, [1, 1, h, w]);
  if (flags.backgroundTokens) checkTensor('referenceMask', inputs.referenceMask, [1, 1, r.shape[2], r.shape[3]]);
  const trace: Record<string, F32Tensor> = {};

  // Reference tokens e = local tokens (open_clip "full" output without the class token).
  const enc = await cp.encodeReference(r);
  trace.clip_preprocess0 = enc.pixels;
  trace.clip_encode0_local_output = enc.tokens;
  let context = enc.tokens;
  if (flags.backgroundTokens) {
    const bgImage = backgroundReference(r, inputs.referenceMask!, tsR);
    trace.clip_encode1_local_input = bgImage;
    const bgTokens = (await cp.encodeReference(bgImage)).tokens;
    trace.clip_encode1_local_output = bgTokens;
    const p = await cp.backgroundPath(enc.tokens, bgTokens, tsR, tsS);
    trace.thresh_embedder_output = p.thresholdEmbedding;
    trace.bg_transformer_input = p.backgroundInput;
    trace.bg_transformer_output = p.backgroundOutput;
    context = catTokens([p.foreground, p.backgroundOutput]);
  }
  if (flags.repeatContext) context = catTokens([context, context]);

  // Hints for [sketch, blank sketch], scaled by the sketch strength.
  const model = cp.model({ mode: settings.mode, sketchThreshold: tsS });
  const pair = new Float32Array(2 * s.data.length);
  pair.set(s.data, 0);
  pair.fill(-1, s.data.length);
  const hs = hintShapes(config, 1, h, w);
  const hints = (await model.encodeSketch(2, h, w, pair)).map((t, k) => {
    const n = hs[k].reduce((a, b) => a * b, 1);
    const scaled = strength === 1 ? t : t.map((v) => f32(v * strength));
    trace[`sketch_encoder_hint${k}`] = { shape: [2, ...hs[k].slice(1)], data: scaled };
    return { sketch: scaled.subarray(0, n), blank: scaled.subarray(n, 2 * n) };
  });
  return { context, mask: flags.split ? inputs.sketchMask : undefined, hints, latentHeight: h, latentWidth: w, trace };
}

function catTokens(parts: readonly F32Tensor[]): F32Tensor {
  const [b, , dim] = parts[0].shape;
  const l = parts.reduce((a, p) => a + p.shape[1], 0);
  return { shape: [b, l, dim], data: cat(parts.map((p) => p.data)) };
}

const cat = (parts: readonly Float32Array[]) => {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};

/** One UNet call on the guidance batch (`branches` order) at latents x (batch 1) and timestep t. */
export async function colorizeUNetBatch(
  model: ColorizeDiffusionModel, cond: ColorizeConditions, branches: readonly GuidanceBranch[], x: Float32Array, t: number, trace: readonly string[] = [],
): Promise<{ out: Float32Array; traces: Record<string, Float32Array> }> {
  const b = branches.length;
  const feeds: Record<string, Float32Array> = {
    sample: repeat(x, b),
    timestep: new Float32Array(b).fill(t),
    context: cat(branches.map((br) => (br === 'zeroReference' ? new Float32Array(cond.context.data.length) : cond.context.data))),
  };
  if (cond.mask && modeFlags(model.settings.mode).split) feeds.sketch_mask = repeat(cond.mask.data, b);
  cond.hints.forEach((hk, k) => (feeds[`hint_${k}`] = cat(branches.map((br) => (br === 'blankSketch' ? hk.blank : hk.sketch)))));
  const shapes: ColorizeUNetShapes = { batch: b, height: cond.latentHeight, width: cond.latentWidth, tokens: cond.context.shape[1] };
  return model.unet(shapes, feeds, trace);
}

export interface ColorizeDiffusionProgress {
  readonly step: number;
  readonly steps: number;
  readonly timestep: number;
}

export interface ColorizeGenerateOptions extends ColorizeConditionSettings {
  steps?: number;
  seed?: number | bigint;
  referenceGuidance?: number;
  sketchGuidance?: number;
  /** Reference strength: one reference_scale for every attn2, or one per attn2 in the original's module
   * order (models/splitAttention/referenceStrength.ts turns the demo's level sliders into this); 1 by default. */
  referenceScale?: number | readonly number[];
  /** Foreground / background strength of split modes. The original demo resets both to 1 (generate() passes
   * its sliders under names prepare_conditions ignores), so they default to 1; inkflow honours them when set. */
  fgScale?: number;
  bgScale?: number;
  /** merge_scale: share of the background result mixed into the foreground one; 0 by default. */
  mergeScale?: number;
  /** Overrides the checkpoint's prediction type. */
  prediction?: 'epsilon' | 'v_prediction';
  /** Keep every step's tensors (ColorizeGenerateResult.trace). */
  trace?: boolean;
  /** Decode the latents (default true). */
  decode?: boolean;
  onProgress?: (p: ColorizeDiffusionProgress) => void;
  signal?: AbortSignal;
}

export interface ColorizeStepTrace {
  unetIn: Float32Array;
  unetT: number;
  unetOut: Float32Array;
  guided: Float32Array;
  latentsAfter: Float32Array;
}

export interface ColorizeGenerateResult {
  /** Final latents [1, 4, H/8, W/8]. */
  latents: F32Tensor;
  /** decode_first_stage(latents) [1, 3, H, W], before any clamp (undefined with decode: false). */
  decoded?: F32Tensor;
  seed: bigint;
  timesteps: number[];
  /** UNet branches per step, in batch order. */
  branches: GuidanceBranch[];
  conditions: ColorizeConditions;
  trace?: { initialNoise: Float32Array; steps: ColorizeStepTrace[] };
}

export function colorizeDiffusionScheduler(overrides: Record<string, unknown> = {}): DiffusersScheduler {
  return createDPMSolverMultistep({ ...COLORIZE_DIFFUSION_SCHEDULER, ...overrides });
}

/** Draws the seed like the demo: an explicit seed, else a random one in [0, 429496729]. */
function resolveSeed(seed: number | bigint | undefined): bigint {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new ColorizeDiffusionError(`seed must be an integer (a bigint beyond 2^53), got ${seed}`);
  return seed === undefined ? BigInt(Math.floor(Math.random() * 429496730)) : BigInt(seed);
}

/** The original's generate(): conditions, seeded noise, DPM++ with (dual) CFG, decode. */
export async function colorizeDiffusionGenerate(cp: ColorizeDiffusionCheckpoint, inputs: ColorizeConditionInputs, opts: ColorizeGenerateOptions): Promise<ColorizeGenerateResult> {
  const d = COLORIZE_DIFFUSION_DEFAULTS;
  const steps = opts.steps ?? d.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new ColorizeDiffusionError(`steps must be an integer in [1, 1000], got ${steps}`);
  const sRef = opts.referenceGuidance ?? d.referenceGuidance;
  const sSketch = opts.sketchGuidance ?? d.sketchGuidance;
  checkScale('referenceGuidance', sRef);
  checkScale('sketchGuidance', sSketch);
  for (const [n, v] of [['fgScale', opts.fgScale], ['bgScale', opts.bgScale], ['mergeScale', opts.mergeScale]] as const) {
    if (v !== undefined) checkScale(n, v);
  }
  for (const v of typeof opts.referenceScale === 'number' ? [opts.referenceScale] : (opts.referenceScale ?? [])) checkScale('referenceScale', v);
  const seed = resolveSeed(opts.seed);
  const cond = await prepareColorizeConditions(cp, inputs, opts);
  opts.signal?.throwIfAborted();
  const model = cp.model({
    mode: opts.mode, sketchThreshold: opts.sketchThreshold ?? d.sketchThreshold,
    referenceScale: opts.referenceScale, fgScale: opts.fgScale, bgScale: opts.bgScale, mergeScale: opts.mergeScale,
  });
  const branches = guidanceBranches(sRef, sSketch);

  // Noise: the reference-shaped draw of cond_aug comes first.
  const gen = createTorchGenerator(seed);
  gen.randn(inputs.reference.shape);
  const noise = gen.randn([1, cp.unetConfig.inChannels, cond.latentHeight, cond.latentWidth]);
  const scheduler = colorizeDiffusionScheduler({ prediction_type: opts.prediction ?? cp.prediction });
  const sigma = scheduler.initNoiseSigma;
  let latents = sigma === 1 ? noise : noise.map((v) => f32(v * sigma));
  scheduler.setTimesteps(steps);
  const timesteps = [...scheduler.timesteps];
  const stepTraces: ColorizeStepTrace[] = [];
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    const input = scheduler.scaleModelInput(latents, t);
    const { out } = await colorizeUNetBatch(model, cond, branches, input, t);
    const guided = combineGuidance(out, branches, sRef, sSketch);
    assertFinite(guided, `UNet output at step ${i + 1}/${timesteps.length} (timestep ${t})`, i + 1);
    const next = scheduler.step(guided, t, latents).prevSample;
    if (opts.trace) stepTraces.push({ unetIn: repeat(input, branches.length), unetT: t, unetOut: out, guided, latentsAfter: next });
    latents = next;
    opts.onProgress?.({ step: i + 1, steps: timesteps.length, timestep: t });
    opts.signal?.throwIfAborted();
  }
  const latentShape = [1, cp.unetConfig.inChannels, cond.latentHeight, cond.latentWidth];
  let decoded: F32Tensor | undefined;
  if (opts.decode !== false) {
    const inv = f32(1 / cp.vae.config.scaling_factor);
    decoded = await cp.vae.decode({ shape: latentShape, data: latents.map((v) => f32(v * inv)) }, { tiled: 'auto' });
  }
  return {
    latents: { shape: latentShape, data: latents }, decoded, seed, timesteps, branches, conditions: cond,
    trace: opts.trace ? { initialNoise: noise, steps: stepTraces } : undefined,
  };
}
