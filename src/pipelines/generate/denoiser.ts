// The denoiser D(x, σ) handed to the ComfyUI sampler: UNet + classifier-free guidance + ControlNet
// residuals + T2I-Adapter features (fixed over the steps) + inpainting, in k-diffusion space (comfy/samplers.py, comfy/model_base.py):
//   t      = nearest training timestep of σ;  x_in = x / √(σ² + 1)
//   UNet   one batch-2N call: [uncond × N ‖ cond × N] (only cond when cfg = 1, as ComfyUI skips uncond)
//          inpainting checkpoints get [x_in ‖ mask ‖ masked-image latent] along channels
//          ControlNets run first on x_in alone (SDXL ones also get the text_embeds / time_ids the UNet gets)
//   D      = ModelSampling.calculate_denoised per half;  CFG: D = D_u + (D_c − D_u)·cfg
//   noise mask (KSamplerX0Inpaint): x ← x·m + (latent + noise·σ)·(1 − m) before, D ← D·m + latent·(1 − m) after
import type { UNetRunner } from '../../models/checkpoint/unetRunner.ts';
import type { ModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import type { Denoiser } from '../../sampling/comfy/types.ts';
import { cachedModel } from '../../sampling/stepCache.ts';
import type { UNetRunInputs, UNetRunShape } from '../../models/checkpoint/unetRunner.ts';
import { controlResidualShapes } from '../../models/unet/unet.ts';
import { controlActive, type PreparedControl } from './controlNet.ts';
import type { TextConditioning } from './conditioning.ts';

export interface DenoiserSetup {
  unet: UNetRunner;
  modelSampling: ModelSamplingDiscrete;
  /** Latent batch N and size. */
  batch: number;
  channels: number;
  height: number;
  width: number;
  /** Already aligned to the same token count. */
  positive: TextConditioning;
  negative: TextConditioning;
  cfg: number;
  controls: readonly PreparedControl[];
  /** T2I-Adapter features for one batch entry, scaled and summed; every UNet batch entry (both CFG halves) gets them. */
  adapterFeatures?: readonly Float32Array[];
  /** KSamplerX0Inpaint: [N·C·h·w] mask (1 = denoise), the model-space latent and the initial noise. */
  noiseMask?: { mask: Float32Array; latent: Float32Array; noise: Float32Array };
  /** Inpainting checkpoints: [1·h·w] rounded mask and [N·C·h·w] model-space masked-image latent. */
  inpaintConcat?: { mask: Float32Array; maskedLatent: Float32Array };
  /**
   * SDXL "text_time" UNets: pooled text embedding and micro-conditioning ids per prompt; every batch entry of a
   * CFG half gets its prompt's (the batch is [uncond × N ‖ cond × N] like the hidden states).
   */
  added?: { positive: AddedConditions; negative: AddedConditions };
  /** Accumulates UNet + ControlNet wall time (ms), for benchmarks. */
  timing?: { unetMs: number; calls: number };
  /**
   * Step caching (sampling/stepCache.ts): which sampler steps run the full UNet, and the sampler's
   * current step. Not combinable with ControlNets or T2I-Adapters (they feed the deep blocks).
   */
  stepCache?: { schedule: readonly boolean[]; stepOf: () => number; stats?: { full: number; shallow: number } };
}

export interface AddedConditions {
  textEmbeds: Float32Array;
  timeIds: Float32Array;
}

/** The UNet's text_embeds / time_ids batch inputs, in the same [uncond × N ‖ cond × N] order as the context. */
function addedBatch(a: DenoiserSetup['added'], n: number, B: number): Pick<AddedConditions, 'textEmbeds' | 'timeIds'> | undefined {
  if (!a) return undefined;
  const pick = (b: number) => (B > n && b < n ? a.negative : a.positive);
  const d = a.positive.textEmbeds.length;
  const k = a.positive.timeIds.length;
  const textEmbeds = new Float32Array(B * d);
  const timeIds = new Float32Array(B * k);
  for (let b = 0; b < B; b++) {
    textEmbeds.set(pick(b).textEmbeds, b * d);
    timeIds.set(pick(b).timeIds, b * k);
  }
  return { textEmbeds, timeIds };
}

export function createDenoiser(s: DenoiserSetup): Denoiser {
  const { unet, modelSampling: ms, batch: n, channels: c, height: h, width: w, cfg } = s;
  const useUncond = Math.abs(cfg - 1) > 1e-9;
  const groups = useUncond ? 2 : 1;
  const B = n * groups;
  const per = c * h * w;
  const seqLen = s.positive.tokens;
  const hidden = s.positive.hidden;
  if (s.negative.tokens !== seqLen) throw new Error('positive and negative conditioning must be aligned to the same token count');
  const ctx = new Float32Array(B * seqLen * hidden);
  for (let b = 0; b < B; b++) ctx.set(useUncond && b < n ? s.negative.data : s.positive.data, b * seqLen * hidden);
  const inC = unet.config.inChannels;
  const concat = s.inpaintConcat;
  if (inC !== c && !concat) throw new Error(`the UNet takes ${inC} input channels; an inpainting checkpoint needs an init image and a mask`);
  const useControl = s.controls.length > 0;
  const adapter = s.adapterFeatures?.length ? s.adapterFeatures.map((f) => repeatBatch(f, B)) : undefined;
  let zeros: ReturnType<typeof zeroResiduals> | undefined;
  const added = addedBatch(s.added, n, B);
  if (s.stepCache && (useControl || adapter)) throw new Error('step caching does not combine with ControlNets or T2I-Adapters (they feed the deep UNet blocks)');
  type Call = { shape: UNetRunShape; inputs: UNetRunInputs };
  const cache = s.stepCache && cachedModel<Call>({
    async full(c) {
      const r = await unet.forwardCached({ ...c.shape, deepCache: 'produce' }, c.inputs);
      return { sample: r.sample, deepFeatures: r.deepFeatures! };
    },
    shallow: async (c, features) => (await unet.forwardCached({ ...c.shape, deepCache: 'consume' }, c.inputs, features)).sample,
  }, s.stepCache.schedule, s.stepCache.stepOf, s.stepCache.stats);

  return async (xRaw, sigma) => {
    const t0 = performance.now();
    let x = xRaw;
    const nm = s.noiseMask;
    if (nm) {
      x = new Float32Array(xRaw.length);
      for (let i = 0; i < x.length; i++) {
        const m = nm.mask[i];
        x[i] = xRaw[i] * m + (nm.latent[i] + nm.noise[i] * sigma) * (1 - m);
      }
    }
    const t = ms.timestep(sigma);
    const xIn = ms.calculateInput(sigma, x);
    // UNet batch input: the same x_in for both halves, with extra channels for inpainting checkpoints.
    const sample = new Float32Array(B * inC * h * w);
    for (let b = 0; b < B; b++) {
      const k = b % n;
      const dst = b * inC * h * w;
      sample.set(xIn.subarray(k * per, (k + 1) * per), dst);
      if (concat) {
        sample.set(concat.mask, dst + per);
        sample.set(concat.maskedLatent.subarray(k * per, (k + 1) * per), dst + per + h * w);
      }
    }
    const timestep = new Float32Array(B).fill(t);
    let downResiduals: Float32Array[] | undefined;
    let midResidual: Float32Array | undefined;
    if (useControl) {
      for (const ctl of s.controls) {
        if (!controlActive(ctl, sigma)) continue;
        // ControlNets see the noisy latent only (never the inpainting extra channels).
        const cnSample = inC === c ? sample : xInBatch(xIn, n, B, per);
        const scale = new Float32Array(B).fill(ctl.strength);
        if ((ctl.use.guessMode || ctl.use.uncond === false) && useUncond) scale.fill(0, 0, n);
        const r = await ctl.use.controlNet.forward(
          { batch: B, height: h, width: w, seqLen, guessMode: ctl.use.guessMode ?? false },
          { sample: cnSample, timestep, encoderHiddenStates: ctx, hint: ctl.hint, scale, ...(ctl.use.controlNet.config.unet.addition ? added : {}) },
        );
        if (!downResiduals) {
          downResiduals = r.down.map((d) => d.slice());
          midResidual = r.mid.slice();
        } else {
          r.down.forEach((d, k) => addInto(downResiduals![k], d));
          addInto(midResidual!, r.mid);
        }
      }
    }
    const runShape: UNetRunShape = { batch: B, height: h, width: w, seqLen, controlNet: useControl, ...(adapter ? { adapterFeatures: adapter.length } : {}) };
    const runInputs: UNetRunInputs = {
      sample, timestep, encoderHiddenStates: ctx,
      ...(useControl ? (downResiduals ? { downResiduals, midResidual } : (zeros ??= zeroResiduals(unet, B, h, w))) : {}),
      ...(adapter ? { adapterFeatures: adapter } : {}),
      ...(added ?? {}),
    };
    const out = cache ? await cache.run({ shape: runShape, inputs: runInputs }) : await unet.forward(runShape, runInputs);
    const outC = unet.config.outChannels;
    if (outC !== c) throw new Error(`UNet outputs ${outC} channels, latent has ${c}`);
    const cond = ms.calculateDenoised(sigma, out.subarray((B - n) * per, B * per), x);
    let denoised = cond;
    if (useUncond) {
      const uncond = ms.calculateDenoised(sigma, out.subarray(0, n * per), x);
      denoised = new Float32Array(cond.length);
      const g = Math.fround(cfg);
      for (let i = 0; i < cond.length; i++) denoised[i] = uncond[i] + (cond[i] - uncond[i]) * g;
    }
    if (nm) for (let i = 0; i < denoised.length; i++) denoised[i] = denoised[i] * nm.mask[i] + nm.latent[i] * (1 - nm.mask[i]);
    if (s.timing) {
      s.timing.unetMs += performance.now() - t0;
      s.timing.calls++;
    }
    return denoised;
  };
}

function xInBatch(xIn: Float32Array, n: number, B: number, per: number): Float32Array {
  const out = new Float32Array(B * per);
  for (let b = 0; b < B; b++) out.set(xIn.subarray((b % n) * per, (b % n + 1) * per), b * per);
  return out;
}

function repeatBatch(one: Float32Array, B: number): Float32Array {
  const all = new Float32Array(one.length * B);
  for (let b = 0; b < B; b++) all.set(one, b * one.length);
  return all;
}

function addInto(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/** Zero residuals for steps outside every ControlNet's range (the UNet session with residual inputs is reused). */
function zeroResiduals(unet: UNetRunner, B: number, h: number, w: number): { downResiduals: Float32Array[]; midResidual: Float32Array } {
  const shapes = controlResidualShapes(unet.config, B, h, w);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return { downResiduals: shapes.down.map((s) => new Float32Array(size(s))), midResidual: new Float32Array(size(shapes.mid)) };
}
