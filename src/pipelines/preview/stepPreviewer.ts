// Sampler step previews, cheap enough to send every step. With a TAESD decoder for the model's family in
// `models/vae_approx` the preview is that tiny decoder's image (as ComfyUI's TAESD previews); otherwise
// ComfyUI's linear latent → RGB factors at latent size. Previews are JPEG.
// TAESD's work grows with the output area (≈ 140 GFLOP for a 512² image — a quarter of a second or more on
// two CPU cores, next to a ~2.3 s UNet step), so the latent is area-averaged down before decoding until the
// preview's long side is at most `previewSide`: 256 px by default on this CPU-first engine (≈ 35 GFLOP),
// INKFLOW_PREVIEW_SIZE or the option to change it (ComfyUI's --preview-size is 512 and decodes full size).
import sharp from 'sharp';
import { findTaesdDecoder, loadTaesdDecoder, type PreviewFamily, type TaesdDecoder } from '../../models/taesd/loadTaesd.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { latentToRgb } from './latentRgb.ts';

export const DEFAULT_PREVIEW_SIDE = 256;
/** Image pixels per latent pixel for SD1/SD2/SDXL. */
const LATENT_SCALE = 8;

export interface StepPreviewer {
  readonly method: 'taesd' | 'latent2rgb';
  /** JPEG of the first batch entry of a model-space latent [B, C, h, w]. */
  preview(denoised: Float32Array, shape: readonly number[]): Promise<Uint8Array>;
}

export interface StepPreviewerOptions extends Pick<CompileOptions, 'provider' | 'cacheDir'> {
  /** Folders searched for taesd_decoder / taesdxl_decoder safetensors (ComfyUI's `vae_approx`). */
  vaeApproxDirs?: readonly string[];
  /** Long side of TAESD previews in pixels (default INKFLOW_PREVIEW_SIZE, else 256). */
  previewSide?: number;
  /** Told when a decoder file is unusable (the linear previews are used instead). */
  warn?: (message: string) => void;
}

// One decoder per file for the life of the process: previews of every later prompt reuse its session.
const decoders = new Map<string, TaesdDecoder>();

function decoderFor(path: string, opts: StepPreviewerOptions): TaesdDecoder {
  let d = decoders.get(path);
  if (!d) decoders.set(path, (d = loadTaesdDecoder(path, { provider: opts.provider, cacheDir: opts.cacheDir })));
  return d;
}

/** Frees the TAESD sessions (the next preview loads them again). */
export async function releasePreviewDecoders(): Promise<void> {
  const all = [...decoders.values()];
  decoders.clear();
  for (const d of all) await d.release();
}

function jpeg(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  // ComfyUI saves previews with quality 95.
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

/** The first batch entry, area-averaged by an integer factor so neither side exceeds `maxSide`. */
export function firstEntryWithin(latent: Float32Array, shape: readonly number[], maxSide: number): { data: Float32Array; shape: number[] } {
  const [, c, h, w] = shape;
  const f = Math.max(1, Math.ceil(Math.max(h, w) / maxSide));
  const oh = Math.max(1, Math.floor(h / f));
  const ow = Math.max(1, Math.floor(w / f));
  if (f === 1) return { data: latent.subarray(0, c * h * w), shape: [1, c, h, w] };
  const out = new Float32Array(c * oh * ow);
  const inv = 1 / (f * f);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) {
          const row = ch * h * w + (y * f + dy) * w + x * f;
          for (let dx = 0; dx < f; dx++) s += latent[row + dx];
        }
        out[ch * oh * ow + y * ow + x] = s * inv;
      }
    }
  }
  return { data: out, shape: [1, c, oh, ow] };
}

/** [1, 3, H, W] floats in [0, 1] → H·W·3 bytes (truncated, as torch's uint8 cast). */
function chwToRgb(data: Float32Array, h: number, w: number): Uint8Array {
  const n = h * w;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.min(1, Math.max(0, data[k * n + i])) * 255;
  return out;
}

function previewSideFromEnv(): number {
  const raw = process.env.INKFLOW_PREVIEW_SIZE;
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 8 ? n : DEFAULT_PREVIEW_SIDE;
}

export function stepPreviewer(family: PreviewFamily, opts: StepPreviewerOptions = {}): StepPreviewer {
  const path = findTaesdDecoder(opts.vaeApproxDirs ?? [], family);
  const linear: StepPreviewer = {
    method: 'latent2rgb',
    preview(denoised, shape) {
      const [, , h, w] = shape;
      return jpeg(latentToRgb(denoised, shape, family), w, h);
    },
  };
  if (!path) return linear;
  const side = opts.previewSide ?? previewSideFromEnv();
  let decoder: TaesdDecoder;
  try {
    decoder = decoderFor(path, opts);
  } catch (e) {
    opts.warn?.(`${e instanceof Error ? e.message : String(e)}; step previews use the linear latent colours instead`);
    return linear;
  }
  return {
    method: 'taesd',
    async preview(denoised, shape) {
      const small = firstEntryWithin(denoised, shape, Math.max(1, Math.floor(side / LATENT_SCALE)));
      const img = await decoder.decode(small.data, small.shape);
      const [, , h, w] = img.shape;
      return jpeg(chwToRgb(img.data, h, w), w, h);
    },
  };
}

/**
 * A sampler's per-step callback that sends a preview of every step it can: while one preview is still being
 * made the next step's is skipped, so a slow preview never queues work behind the sampler. Previews are
 * best effort: a failure is reported once through `warn` and costs nothing else.
 */
export function previewEachStep(previewer: StepPreviewer, send: (jpeg: Uint8Array) => void, warn: (message: string) => void = () => {}) {
  let busy = false;
  let warned = false;
  return (denoised: Float32Array, shape: readonly number[]): void => {
    if (busy) return;
    busy = true;
    previewer
      .preview(denoised, shape)
      .then(send, (e: unknown) => {
        if (!warned) warn(`step preview failed (${previewer.method}): ${e instanceof Error ? e.message : String(e)}`);
        warned = true;
      })
      .finally(() => (busy = false));
  };
}
