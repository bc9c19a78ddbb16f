// ControlNet application with ComfyUI's ControlNetApplyAdvanced semantics:
//   - the hint image ([0,1] RGB) is resized to latent size × the ControlNet's hint scale with
//     nearest-exact and a centre crop (comfy.utils.common_upscale in ControlBase.get_control);
//   - residuals are multiplied by `strength`; strength 0 means the ControlNet is not applied at all;
//   - the ControlNet runs only while start_percent ≤ progress ≤ end_percent, where a percent p maps to
//     σ(p) = sigma((1 − p)·999) (p ≤ 0 → ∞, p ≥ 1 → 0) and a step at σ is controlled iff σ(end) ≤ σ ≤ σ(start);
//   - several ControlNets add their residuals (ComfyUI chains them through previous_controlnet).
// "Guess mode" (diffusers) scales residuals by logspace(−1, 0) from shallow to deep and gives the
// unconditional half of the CFG batch no control.
import type { Image } from '../../imaging/image.ts';
import { resizeImage } from '../../imaging/resize.ts';
import type { ControlNetRunner } from '../../models/checkpoint/controlNetRunner.ts';
import type { ModelSamplingDiscrete } from '../../sampling/comfy/modelSamplingDiscrete.ts';
import type { UNetConfig } from '../../models/unet/config.ts';
import { imageToUnitTensor } from './pixels.ts';

export interface ControlNetUse {
  controlNet: ControlNetRunner;
  /** The control image (e.g. a sketch or line art), any size. */
  hint: Image;
  /** Default 1.0 (ComfyUI range 0–10). */
  strength?: number;
  /** Default 0. */
  startPercent?: number;
  /** Default 1. */
  endPercent?: number;
  guessMode?: boolean;
  /** false: only the conditional half of the CFG batch is controlled (ComfyUI's ControlNetApply on the positive
   *  prompt alone); default true (ControlNetApplyAdvanced attaches it to both prompts). */
  uncond?: boolean;
}

export class ControlNetUseError extends Error {
  override name = 'ControlNetUseError';
}

/**
 * The comic study's single "sketch fidelity" slider f ∈ [0, 1]: strength and end_percent move together
 * (strength = f·maxStrength, end_percent = f). 0 ignores the sketch; 1 follows it for the whole schedule.
 */
export function sketchFidelity(f: number, maxStrength = 1): { strength: number; startPercent: number; endPercent: number } {
  if (!(f >= 0 && f <= 1)) throw new ControlNetUseError(`sketch fidelity must be in [0, 1], got ${f}`);
  if (!(maxStrength > 0 && maxStrength <= 10)) throw new ControlNetUseError(`maximum strength must be in (0, 10], got ${maxStrength}`);
  return { strength: f * maxStrength, startPercent: 0, endPercent: f };
}

/** ModelSampling.percent_to_sigma. */
export function percentToSigma(ms: ModelSamplingDiscrete, percent: number): number {
  if (percent <= 0) return 999999999.9;
  if (percent >= 1) return 0;
  return ms.sigma((1 - percent) * 999);
}

export interface PreparedControl {
  use: ControlNetUse;
  strength: number;
  /** σ(start) ≥ σ ≥ σ(end) enables it. */
  sigmaHigh: number;
  sigmaLow: number;
  /** Hint for the whole UNet batch. */
  hint: Float32Array;
}

export function validateControlUse(u: ControlNetUse, index: number): void {
  const s = u.strength ?? 1;
  const a = u.startPercent ?? 0;
  const b = u.endPercent ?? 1;
  const where = `ControlNet ${index + 1}`;
  if (!(s >= 0 && s <= 10)) throw new ControlNetUseError(`${where}: strength must be in [0, 10], got ${s}`);
  if (!(a >= 0 && a <= 1) || !(b >= 0 && b <= 1)) throw new ControlNetUseError(`${where}: start/end percent must be in [0, 1], got ${a} / ${b}`);
  if (a > b) throw new ControlNetUseError(`${where}: start_percent ${a} is after end_percent ${b}`);
}

/**
 * Refuses a ControlNet built for another model family before anything is compiled: its context width and
 * SDXL added conditioning (pooled width, number of time ids) must be the UNet's.
 */
export function assertControlNetFitsUNet(runner: Pick<ControlNetRunner, 'path' | 'config'>, unet: UNetConfig, index = 0): void {
  const c = runner.config.unet;
  const family = (u: UNetConfig) => (u.addition ? `SDXL-style, context ${u.crossAttentionDim}, pooled ${u.addition.textEmbedDim} + ${u.addition.timeIds} time ids` : `context ${u.crossAttentionDim}, no pooled text`);
  const a = c.addition;
  const b = unet.addition;
  const fits = c.crossAttentionDim === unet.crossAttentionDim && c.inChannels <= unet.inChannels && (!a && !b || (a && b && a.textEmbedDim === b.textEmbedDim && a.timeIds === b.timeIds && a.timeEmbedDim === b.timeEmbedDim));
  if (!fits && a?.timeIds === 6 && b?.timeIds === 5) throw new ControlNetUseError(refinerControlNetRefusal(`ControlNet ${index + 1} (${runner.path})`, ` (the ControlNet is ${family(c)}, the refiner's UNet ${family(unet)})`));
  if (!fits) throw new ControlNetUseError(`ControlNet ${index + 1} (${runner.path}) does not fit this checkpoint: the ControlNet is ${family(c)}, the checkpoint's UNet ${family(unet)} (an SD1 ControlNet needs an SD1 checkpoint, an SDXL one an SDXL checkpoint)`);
}

/**
 * A base-model SDXL ControlNet on the refiner. Every released SDXL ControlNet is trained on the base: its
 * cross-attention reads the 2048-wide context of both text towers and its label embedding the 2816-wide
 * pooled text + 6 size/crop/target ids. The refiner conditions on bigG alone (1280) and swaps the target size
 * for an aesthetic score (2560 = 1280 + 5 × 256), so the ControlNet cannot read what the refiner passes. ComfyUI
 * attaches the ControlNet anyway and its first step fails inside the ControlNet with a tensor shape mismatch
 * (comfy/controlnet.py feeds the refiner's c_crossattn and y to it unchanged); this says why, before any work.
 */
export function refinerControlNetRefusal(what: string, details = ''): string {
  return `${what} is an SDXL base ControlNet and the checkpoint is the SDXL refiner${details}: ` +
    'SDXL ControlNets are trained on the base model, whose context comes from both text encoders and whose added conditioning holds the target size, ' +
    'while the refiner conditions on OpenCLIP bigG alone with an aesthetic score, so the ControlNet cannot read the refiner\'s conditioning ' +
    '(ComfyUI fails on this pairing with a tensor shape mismatch). Apply the ControlNet in the base pass and refine without it.';
}

/** Resizes hints and computes sigma ranges; ControlNets with strength 0 are dropped (ComfyUI returns the conditioning unchanged). */
export function prepareControls(uses: readonly ControlNetUse[], ms: ModelSamplingDiscrete, latentW: number, latentH: number, batch: number, unet?: UNetConfig): PreparedControl[] {
  uses.forEach(validateControlUse);
  if (unet) uses.forEach((u, i) => assertControlNetFitsUNet(u.controlNet, unet, i));
  return uses.filter((u) => (u.strength ?? 1) !== 0).map((use) => {
    const s = use.controlNet.hintScale;
    const img = resizeImage(use.hint, latentW * s, latentH * s, 'nearest-exact', 'center');
    const one = imageToUnitTensor(img);
    const hint = new Float32Array(one.length * batch);
    for (let b = 0; b < batch; b++) hint.set(one, b * one.length);
    return { use, strength: use.strength ?? 1, sigmaHigh: percentToSigma(ms, use.startPercent ?? 0), sigmaLow: percentToSigma(ms, use.endPercent ?? 1), hint };
  });
}

export function controlActive(c: PreparedControl, sigma: number): boolean {
  return !(sigma > c.sigmaHigh || sigma < c.sigmaLow);
}
