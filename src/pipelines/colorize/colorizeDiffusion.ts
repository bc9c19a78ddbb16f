// ColorizeDiffusion sampling (tellurion-kanata/colorizeDiffusion; arXiv 2502.19937), wired as the original's
// diffusers path (refnet/sampling/denoiser.py DiffuserDenoiser, refnet/models/basemodel.py generate):
//   hints = sketch_encoder([sketch, blank sketch (all −1)]) · sketch strength, computed once
//   branches, batched in this order: cond (reference, sketch), u0 (zero reference, sketch), u1 (reference, blank)
//   guidance: both scales > 1 → dual CFG over the batch of 3; only one > 1 → ordinary CFG with that branch's
//   uncond (batch 2); neither → one pass. (The original decides this way, so the default sketch scale 1.0
//   runs reference-only CFG at 4.0 — not the dual formula with s_s = 1, which would halve the guidance.)
//   DPMSolverMultistep (configs/scheduler_cfgs/dpm.yaml: scaled_linear 0.00085–0.012, steps_offset 1,
//   leading spacing); x_T = torch.randn(seed) · init_noise_sigma (CPU generator; the original draws on CUDA).
// The image-side parts (OpenCLIP ViT-H reference tokens, the background encoder, VAE) are the caller's: this
// function takes tokens, a latent-size sketch mask and the sketch tensor, and returns latents.
import type { ColorizeDiffusionModel, ColorizeUNetShapes } from '../../models/splitAttention/colorizeModel.ts';
import { modeFlags } from '../../models/splitAttention/modes.ts';
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

/** refnet configs/scheduler_cfgs/dpm.yaml, for diffusers' DPMSolverMultistepScheduler. */
export const COLORIZE_DIFFUSION_SCHEDULER = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  timestep_spacing: 'leading',
  prediction_type: 'epsilon',
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

export interface ColorizeDiffusionInputs {
  /** Sketch [1, 3, H, W] in [−1, 1] as the sketch encoder was trained on (a blank sketch is all −1); H, W multiples of 64. */
  sketch: F32Tensor;
  /** Reference tokens [1, L, cross_attention_dim] (OpenCLIP ViT-H local tokens in the released models). */
  referenceTokens: F32Tensor;
  /** Background tokens [1, L2, D] for split modes; default the reference tokens (the original's fallback). */
  backgroundTokens?: F32Tensor;
  /** Sketch foreground mask at latent size [1, 1, H/8, W/8] (split modes; see sketchMaskToLatent). */
  sketchMask?: F32Tensor;
}

export interface ColorizeDiffusionProgress {
  readonly step: number;
  readonly steps: number;
  readonly timestep: number;
}

export interface ColorizeDiffusionOptions {
  steps?: number;
  seed?: number | bigint;
  referenceGuidance?: number;
  sketchGuidance?: number;
  /** Multiplies the sketch hints (the demo's "sketch strength", control_scale); 1 by default. */
  sketchStrength?: number;
  /** DPMSolverMultistep config keys over COLORIZE_DIFFUSION_SCHEDULER (e.g. prediction_type). */
  schedulerOverrides?: Record<string, unknown>;
  onProgress?: (p: ColorizeDiffusionProgress) => void;
  signal?: AbortSignal;
}

export interface ColorizeDiffusionResult {
  /** x_0 latents [1, 4, H/8, W/8] (divide by the VAE scaling factor before decoding). */
  latents: F32Tensor;
  seed: bigint;
  timesteps: number[];
  /** UNet branches per step, in batch order. */
  branches: GuidanceBranch[];
}

export function colorizeDiffusionScheduler(overrides: Record<string, unknown> = {}): DiffusersScheduler {
  return createDPMSolverMultistep({ ...COLORIZE_DIFFUSION_SCHEDULER, ...overrides });
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

/** Samples latents with the model's mode (vanilla / bg2fig / fig2fig) and dual CFG. */
export async function colorizeDiffusionLatents(model: ColorizeDiffusionModel, inputs: ColorizeDiffusionInputs, opts: ColorizeDiffusionOptions = {}): Promise<ColorizeDiffusionResult> {
  const d = COLORIZE_DIFFUSION_DEFAULTS;
  const steps = opts.steps ?? d.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new ColorizeDiffusionError(`steps must be an integer in [1, 1000], got ${steps}`);
  const sRef = opts.referenceGuidance ?? d.referenceGuidance;
  const sSketch = opts.sketchGuidance ?? d.sketchGuidance;
  const strength = opts.sketchStrength ?? 1;
  checkScale('referenceGuidance', sRef);
  checkScale('sketchGuidance', sSketch);
  checkScale('sketchStrength', strength);
  if (typeof opts.seed === 'number' && !Number.isSafeInteger(opts.seed)) throw new ColorizeDiffusionError(`seed must be an integer (a bigint beyond 2^53), got ${opts.seed}`);
  const seed = opts.seed === undefined ? BigInt(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER)) : BigInt(opts.seed);

  const config = model.config;
  const dim = config.crossAttentionDim;
  const s = inputs.sketch;
  if (s.shape.length !== 4 || s.shape[0] !== 1 || s.shape[1] !== 3) throw new ColorizeDiffusionError(`sketch must be [1,3,H,W], got [${s.shape.join(',')}]`);
  const unit = SKETCH_ENCODER_SCALE * 2 ** (config.down.filter((l) => l.downsample).length);
  if (s.shape[2] % unit !== 0 || s.shape[3] % unit !== 0) throw new ColorizeDiffusionError(`sketch sides must be multiples of ${unit} (the latent must halve evenly at every level, as the original's mask resize needs), got ${s.shape[2]}×${s.shape[3]}`);
  checkTensor('sketch', s, [1, 3, s.shape[2], s.shape[3]]);
  const h = s.shape[2] / SKETCH_ENCODER_SCALE;
  const w = s.shape[3] / SKETCH_ENCODER_SCALE;
  const ref = inputs.referenceTokens;
  checkTensor('referenceTokens', ref, [1, ref.shape[1] ?? 0, dim]);
  const split = modeFlags(model.settings.mode).split;
  const bgTok = inputs.backgroundTokens ?? ref;
  if (split) {
    checkTensor('backgroundTokens', bgTok, [1, bgTok.shape[1] ?? 0, dim]);
    checkTensor('sketchMask (latent size)', inputs.sketchMask, [1, 1, h, w]);
  }
  opts.signal?.throwIfAborted();

  // Sketch hints for [sketch, blank sketch], scaled by the sketch strength, split per branch.
  const sketchPair = new Float32Array(2 * s.data.length);
  sketchPair.set(s.data, 0);
  sketchPair.fill(-1, s.data.length);
  const hs = hintShapes(config, 1, h, w);
  const hints = (await model.encodeSketch(2, h, w, sketchPair)).map((t, k) => {
    const n = hs[k].reduce((a, b) => a * b, 1);
    const scaled = strength === 1 ? t : t.map((v) => f32(v * strength));
    return { sketch: scaled.subarray(0, n), blank: scaled.subarray(n, 2 * n) };
  });

  const branches = guidanceBranches(sRef, sSketch);
  const b = branches.length;
  const shapes: ColorizeUNetShapes = { batch: b, height: h, width: w, fgTokens: ref.shape[1], bgTokens: bgTok.shape[1] };
  const cat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  };
  const context = (t: Float32Array) => cat(branches.map((br) => (br === 'zeroReference' ? new Float32Array(t.length) : t)));
  const fixed: Record<string, Float32Array> = { fg_context: context(ref.data) };
  if (split) {
    fixed.bg_context = context(bgTok.data);
    fixed.sketch_mask = repeat(inputs.sketchMask!.data, b);
  }
  hints.forEach((hk, k) => (fixed[`hint_${k}`] = cat(branches.map((br) => (br === 'blankSketch' ? hk.blank : hk.sketch)))));

  const scheduler = colorizeDiffusionScheduler(opts.schedulerOverrides);
  const latentShape = [1, config.inChannels, h, w];
  const noise = createTorchGenerator(seed).randn(latentShape);
  const sigma = scheduler.initNoiseSigma;
  let latents = sigma === 1 ? noise : noise.map((v) => f32(v * sigma));
  scheduler.setTimesteps(steps);
  const timesteps = [...scheduler.timesteps];
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    const input = scheduler.scaleModelInput(latents, t);
    const out = await model.unet(shapes, { ...fixed, sample: repeat(input, b), timestep: new Float32Array(b).fill(t) });
    const pred = combineGuidance(out, branches, sRef, sSketch);
    assertFinite(pred, `UNet output at step ${i + 1}/${timesteps.length} (timestep ${t})`, i + 1);
    latents = scheduler.step(pred, t, latents).prevSample;
    opts.onProgress?.({ step: i + 1, steps: timesteps.length, timestep: t });
    opts.signal?.throwIfAborted();
  }
  return { latents: { shape: latentShape, data: latents }, seed, timesteps, branches };
}
