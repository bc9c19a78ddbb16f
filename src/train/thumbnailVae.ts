// An AutoencoderKL (the bundled VAE's architecture: block_out_channels [16, 32, 64], one layer per
// block, 8 GroupNorm groups, 4 latent channels, f = 4) whose weights are set by hand, not trained, so that
//   encode = 4×4 average pooling of R, G, B minus a fixed shift (latent channels 0–2; channel 3 is 0),
//   decode = nearest 4× upsampling of them plus the shift (each colour scaled by the picture's own RMS, see below).
// The text-to-image model's first release trains in this latent space: a latent is then a 32×32 colour
// thumbnail, which keeps the named colours exact, while the trained tiny VAE (models/default/vae) was not
// yet able to reproduce colours. How the GroupNorms are made harmless:
//   every ResNet's conv2 is zero, so each block is its identity (or its 1×1 shortcut, set to a channel
//   copy); down-samplers average their 2×2 window, up-samplers copy (3×3 centre tap after nearest ×2);
//   the encoder's last GroupNorm sees each colour as a pair (c, −c) plus six constants ±K in its group of
//   eight channels, so its mean is exactly 0 and its spread ≈ K·√(6/8) (to 0.02 % for K = 30);
//   the decoder's last GroupNorm has groups of two channels, (c, −c): its output is c/rms(c), so a colour
//   comes back multiplied by rms_typical/rms(picture) — a few per cent on these mostly-white pictures;
//   before each SiLU a bias of +12 keeps it in its linear range (SiLU(u + 12) = u + 12 to 1e−4), and
//   the following conv subtracts it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVaeConfig } from '../models/vae/config.ts';
import { vaeDecodeGraph } from '../models/vae/decoder.ts';
import { vaeEncodeGraph } from '../models/vae/encoder.ts';
import { writeSafetensors } from '../weights/safetensors.ts';

export const THUMBNAIL_VAE_CONFIG = {
  _class_name: 'AutoencoderKL', in_channels: 3, out_channels: 3, block_out_channels: [16, 32, 64], layers_per_block: 1, latent_channels: 4,
  norm_num_groups: 8, sample_size: 128, scaling_factor: 1, mid_block_add_attention: false,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};
const K = 30;
const BIAS = 12;
/** Typical RMS of each colour on the synthetic characters (4×4 averages in [−1, 1]), for the decoder's scale. */
export const CHARACTER_RMS = [0.9172, 0.9139, 0.921];

/**
 * Mean of each colour on the synthetic characters (mostly white paper): the encoder subtracts it and the
 * decoder adds it back, so latents are centred — a diffusion model's weakest skill is getting the mean
 * of a picture right from pure noise (SD's schedule keeps only 7 % of the signal at t = 999).
 */
export const CHARACTER_MEAN = [0.769, 0.7503, 0.7424];

/** The weights by parameter name (diffusers AutoencoderKL names) with their shapes. */
export function thumbnailVaeWeights(rms: readonly number[] = CHARACTER_RMS, shift: readonly number[] = [0, 0, 0]): { name: string; shape: number[]; data: Float32Array }[] {
const cfg = parseVaeConfig(THUMBNAIL_VAE_CONFIG);
const shapes = new Map<string, number[]>();
for (const g of [vaeEncodeGraph(cfg, [1, 3, 128, 128]), vaeDecodeGraph(cfg, [1, 4, 32, 32])]) for (const [n, id] of g.params) shapes.set(n, [...g.values[id].shape]);
const w = new Map<string, Float32Array>();
for (const [n, s] of shapes) w.set(n, new Float32Array(s.reduce((a, b) => a * b, 1)));
const get = (n: string) => w.get(n)!;
/** conv weight [o, i, kh, kw]: sets element (o, i, y, x). */
const setConv = (n: string, o: number, i: number, y: number, x: number, v: number) => {
  const [, ci, kh, kw] = shapes.get(n)!;
  get(n)[((o * ci + i) * kh + y) * kw + x] = v;
};
const centre = (n: string, o: number, i: number, v: number) => {
  const s = shapes.get(n)!;
  setConv(n, o, i, Math.floor(s[2] / 2), Math.floor(s[3] / 2), v);
};
const identity = (n: string, channels: number) => { for (let c = 0; c < channels; c++) centre(n, c, c, 1); };
// Norm scales default to 1 (unused on zeroed branches, but kept sane).
for (const [n, a] of w) if (/norm\d?\.weight$|norm_out\.weight$/.test(n)) a.fill(1);

// Encoder. conv_in: (R, −R, G, −G, B, −B) in channels 0–5.
for (let c = 0; c < 3; c++) {
  centre('encoder.conv_in.weight', 2 * c, c, 1);
  centre('encoder.conv_in.weight', 2 * c + 1, c, -1);
}
for (const level of [0, 1]) {
  const n = `encoder.down_blocks.${level}.downsamplers.0.conv.weight`;
  const ch = shapes.get(n)![0];
  for (let c = 0; c < ch; c++) for (const [y, x] of [[0, 0], [0, 1], [1, 0], [1, 1]]) setConv(n, c, c, y, x, 0.25);
}
identity('encoder.down_blocks.1.resnets.0.conv_shortcut.weight', 16);
// 32 → 64: colour pairs to the start of groups 0, 1, 2 (channels 0, 8, 16), constants ±K fill the rest of those groups.
for (let c = 0; c < 3; c++) for (const s of [0, 1]) centre('encoder.down_blocks.2.resnets.0.conv_shortcut.weight', 8 * c + s, 2 * c + s, 1);
const shortcutBias = get('encoder.down_blocks.2.resnets.0.conv_shortcut.bias');
for (let c = 0; c < 3; c++) for (let j = 2; j < 8; j++) shortcutBias[8 * c + j] = j % 2 ? -K : K;
const spread = K * Math.sqrt(6 / 8);
const encNormW = get('encoder.conv_norm_out.weight');
const encNormB = get('encoder.conv_norm_out.bias');
for (let ch = 0; ch < 64; ch++) {
  encNormW[ch] = spread;
  encNormB[ch] = BIAS;
}
// conv_out → mean (0–3) and logvar (4–7): mean_c = (pair − negative pair)/2.
for (let c = 0; c < 3; c++) {
  centre('encoder.conv_out.weight', c, 8 * c, 0.5);
  centre('encoder.conv_out.weight', c, 8 * c + 1, -0.5);
}
const encOutB = get('encoder.conv_out.bias');
for (let c = 0; c < 3; c++) encOutB[c] = -shift[c];
for (let k = 4; k < 8; k++) encOutB[k] = -20;
identity('quant_conv.weight', 8);
identity('post_quant_conv.weight', 4);

// Decoder. conv_in: (R, −R, G, −G, B, −B) in channels 0–5 (the shift added back), kept through identities and up-samplers.
const decInB = get('decoder.conv_in.bias');
for (let c = 0; c < 3; c++) {
  centre('decoder.conv_in.weight', 2 * c, c, 1);
  centre('decoder.conv_in.weight', 2 * c + 1, c, -1);
  decInB[2 * c] = shift[c];
  decInB[2 * c + 1] = -shift[c];
}
for (const level of [0, 1]) {
  const n = `decoder.up_blocks.${level}.upsamplers.0.conv.weight`;
  identity(n, shapes.get(n)![0]);
}
identity('decoder.up_blocks.1.resnets.0.conv_shortcut.weight', 32);
identity('decoder.up_blocks.2.resnets.0.conv_shortcut.weight', 16);
// Groups of two: (c, −c) normalises to c/rms(c); scale 1, bias +12, then conv_out undoes the bias and applies the typical rms.
const decNormB = get('decoder.conv_norm_out.bias');
decNormB.fill(BIAS);
for (let c = 0; c < 3; c++) {
  centre('decoder.conv_out.weight', c, 2 * c, rms[c] / 2);
  centre('decoder.conv_out.weight', c, 2 * c + 1, -rms[c] / 2);
}
  return [...shapes].map(([name, shape]) => ({ name, shape, data: get(name) }));
}

/** Writes the VAE as a diffusers folder (config.json + diffusion_pytorch_model.safetensors). */
export async function writeThumbnailVae(dir: string, rms: readonly number[] = CHARACTER_RMS, shift: readonly number[] = [0, 0, 0]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(THUMBNAIL_VAE_CONFIG, null, 2)}\n`);
  const tensors = thumbnailVaeWeights(rms, shift).map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data }));
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors, { inkflow_vae: 'thumbnail (4×4 average pooling / nearest upsampling), hand-set weights (src/train/thumbnailVae.ts)' });
}
