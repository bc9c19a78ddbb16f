// An OpenCLIP vision tower (e.g. ViT-H-14, laion2b_s32b_b79k) on the CLIP vision graph: the keys are served
// under transformers' names (weights/keymaps/openClip.ts), the config comes from the tensor shapes, and
// `local_tokens` (every patch token through ln_post and proj, class token dropped) is ColorizeDiffusion's
// reference embedding (refnet/modules/embedder.py FrozenOpenCLIPImageEmbedder, output "local", or "full"[:, 1:]).
// Its image preprocessing is not CLIPImageProcessor's: the [−1, 1] image is resized to 224² (aspect NOT kept)
// with torch.nn.functional.interpolate(mode="bicubic", align_corners=True, antialias=True), mapped to [0, 1]
// and normalised with CLIP's mean/std.
import type { CompileOptions } from '../../runtime/session.ts';
import type { SafetensorsReader } from '../../weights/safetensors.ts';
import { detectOpenClipVisionLayout, openClipVisionWeights, type OpenClipVisionLayout } from '../../weights/keymaps/openClip.ts';
import { ClipConfigError, parseClipVisionConfig, type ClipVisionConfig } from './config.ts';
import { clipVisionEncoder, type ClipVisionEncoder } from './visionEncoder.ts';
import type { F32Tensor } from './textEncoder.ts';

export const OPENCLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENCLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/**
 * Heads are not in the shapes. open_clip's configs: ViT-B (768) 12 heads, ViT-L (1024) 16, ViT-H (1280,
 * head_width 80) 16, ViT-bigG (1664, head_width 104) 16; anything else open_clip's default head_width 64.
 */
export function openClipVisionHeads(width: number): number {
  const known: Record<number, number> = { 768: 12, 1024: 16, 1280: 16, 1664: 16 };
  return known[width] ?? Math.max(1, Math.floor(width / 64));
}

export function openClipVisionConfig(layout: OpenClipVisionLayout, heads = openClipVisionHeads(layout.width)): ClipVisionConfig {
  if (!layout.projectionDim) throw new ClipConfigError(`OpenCLIP vision tower at "${layout.prefix}" has no proj: its local tokens cannot be computed`);
  return parseClipVisionConfig({
    hidden_size: layout.width,
    intermediate_size: layout.mlpWidth,
    projection_dim: layout.projectionDim,
    num_hidden_layers: layout.layers,
    num_attention_heads: heads,
    num_channels: layout.channels,
    image_size: layout.imageSize,
    patch_size: layout.patchSize,
    hidden_act: 'gelu', // open_clip's nn.GELU (erf)
    layer_norm_eps: 1e-5, // open_clip's LayerNorm = torch default
  }, `OpenCLIP vision tower (${layout.prefix || 'no prefix'})`);
}

export interface OpenClipVisionOptions extends Pick<CompileOptions, 'provider' | 'threads' | 'cacheDir' | 'fuse'> {
  /** Attention heads when the width is not one of open_clip's released towers. */
  heads?: number;
}

/** The vision tower of an open file (any of the OpenCLIP prefixes), or undefined when it holds none. */
export function openClipVisionEncoder(reader: SafetensorsReader, opts: OpenClipVisionOptions = {}): ClipVisionEncoder | undefined {
  const layout = detectOpenClipVisionLayout(reader);
  if (!layout) return undefined;
  return clipVisionEncoder(openClipVisionConfig(layout, opts.heads), openClipVisionWeights(reader, layout), opts);
}

/** Keys' cubic with a = −0.5 (torch's antialiased bicubic, as Pillow). */
function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/**
 * The [out, in] weights of torch's antialiased bicubic resize along one axis (aten UpSampleKernel
 * `_compute_index_ranges_weights`): scale = (in−1)/(out−1) with align_corners=True, in/out without;
 * centre = scale·(i + ½), support = 2·max(scale, 1), taps xmin = trunc(centre − support + ½) …
 * trunc(centre + support + ½) clamped to the input, weights K((j − centre + ½)/max(scale, 1)) normalised to sum 1.
 */
export function antialiasBicubicMatrix(inSize: number, outSize: number, alignCorners = true): Float64Array {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) throw new Error(`antialiasBicubicMatrix: sizes must be positive integers, got ${inSize} → ${outSize}`);
  const scale = !alignCorners ? inSize / outSize : outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  const support = 2 * Math.max(scale, 1);
  const inv = scale >= 1 ? 1 / scale : 1;
  const m = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(centre - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let total = 0;
    for (let j = xmin; j < xmax; j++) total += (m[i * inSize + j] = cubic((j - centre + 0.5) * inv));
    if (total !== 0) for (let j = xmin; j < xmax; j++) m[i * inSize + j] /= total;
  }
  return m;
}

/** planes [N, H, W] → [N, outH, outW] with the resize above (width first, then height, as torch does). */
function resizePlanes(planes: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const n = planes.length / (h * w);
  const rw = antialiasBicubicMatrix(w, outW);
  const rh = antialiasBicubicMatrix(h, outH);
  const out = new Float32Array(n * outH * outW);
  const tmp = new Float64Array(h * outW);
  for (let p = 0; p < n; p++) {
    const src = planes.subarray(p * h * w, (p + 1) * h * w);
    for (let y = 0; y < h; y++) for (let o = 0; o < outW; o++) {
      let acc = 0;
      for (let x = 0; x < w; x++) {
        const k = rw[o * w + x];
        if (k !== 0) acc += k * src[y * w + x];
      }
      tmp[y * outW + o] = Math.fround(acc);
    }
    for (let o = 0; o < outH; o++) for (let x = 0; x < outW; x++) {
      let acc = 0;
      for (let y = 0; y < h; y++) {
        const k = rh[o * h + y];
        if (k !== 0) acc += k * tmp[y * outW + x];
      }
      out[p * outH * outW + o * outW + x] = acc;
    }
  }
  return out;
}

/** FrozenOpenCLIPImageEmbedder.preprocess: image [B,3,H,W] in [−1, 1] → pixel_values [B,3,size,size]. */
export function openClipPixelsFromSigned(image: F32Tensor, size: number): F32Tensor {
  const [b, c, h, w] = image.shape;
  if (image.shape.length !== 4 || c !== 3 || image.data.length !== b * c * h * w) throw new ClipConfigError(`OpenCLIP preprocess: image must be [B,3,H,W], got [${image.shape.join(',')}]`);
  const resized = resizePlanes(image.data, h, w, size, size);
  const plane = size * size;
  for (let i = 0; i < resized.length; i++) {
    const ch = Math.floor(i / plane) % 3;
    const x01 = Math.fround(Math.fround(resized[i] + 1) / 2);
    resized[i] = Math.fround(Math.fround(x01 - Math.fround(OPENCLIP_MEAN[ch])) / Math.fround(OPENCLIP_STD[ch]));
  }
  return { shape: [b, 3, size, size], data: resized };
}
