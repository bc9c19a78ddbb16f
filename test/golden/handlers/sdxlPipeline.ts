// Golden handler for diffusers' SDXL pipelines (golden/sdxl_pipeline/: StableDiffusionXLPipeline and
// StableDiffusionXLImg2ImgPipeline on tiny random weights). The folder is opened with loadSdxlCheckpoint
// exactly as a user's diffusers folder (the BPE tables come from the tokenizer folder option, as for a
// folder without vocab files). Each run is replayed step by step the diffusers way — Euler "leading", CFG
// [negative ‖ positive], one torch generator — with the product's SDXL conditioning (both towers, pooled,
// time ids), UNet runner and VAE, and every recorded tensor is compared.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { expectClose, fileExists, goldenRoot, readBin, readJson, type BinDType } from '../io.ts';
import { decodeImage } from '../../../src/imaging/image.ts';
import { createGraph } from '../../../src/graph/graph.ts';
import * as op from '../../../src/graph/ops.ts';
import { compile } from '../../../src/runtime/session.ts';
import { loadSdxlCheckpoint, type SdxlCheckpoint } from '../../../src/models/checkpoint/sdxlCheckpoint.ts';
import { openUNetCheckpoint, unetWeights } from '../../../src/models/unet/load.ts';
import { unetTimeEmbedding } from '../../../src/models/unet/unet.ts';
import { timestepProjection } from '../../../src/models/unet/timestepEmbedding.ts';
import { weightedTokenChunks } from '../../../src/models/prompt/weights.ts';
import { createEuler } from '../../../src/sampling/diffusers/euler.ts';
import { createTorchGenerator } from '../../../src/sampling/torchRandom.ts';
import { parsePrompt } from '../../../src/pipelines/generate/conditioning.ts';
import { encodeSdxlPrompt, sdxlTimeIds, type SdxlConditioning } from '../../../src/pipelines/generate/sdxlConditioning.ts';

const TABLES = join(goldenRoot, '../data/clip-tokenizer');

/**
 * Tolerances (max abs): float32 rounding of this pipeline is ~1e-7 on embeddings and ~2e-5 on latents
 * (README f64 rerun). Text 1e-5, everything in latent space 1e-4, the VAE input 1e-4/0.13025 (division by the
 * latent scale), decoded pixels 1e-4, uint8 ±1.
 */
const TOL_TEXT = 1e-5;
const TOL = 1e-4;

interface TensorEntry { file: string; dtype: BinDType; shape: number[] }
interface Run {
  pipeline: string;
  kind: 'txt2img' | 'img2img';
  call_args: Record<string, any>;
  do_classifier_free_guidance: boolean;
  timesteps: number[];
  init_noise_sigma?: number;
  tensors: Record<string, TensorEntry>;
}
interface Manifest { runs: Record<string, Run>; height: number; width: number }

function isSdxlGolden(dir: string): boolean {
  if (!fileExists(join(dir, 'manifest.json')) || !fileExists(join(dir, 'model_index.json'))) return false;
  return /StableDiffusionXL/.test(String(readJson(join(dir, 'model_index.json'))._class_name ?? ''));
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The step-0 time embeddings, as diffusers' forward hooks see them (time_proj, time_embedding, add_time_proj, add_embedding). */
async function timeEmbeddingTrace(dir: string, ckpt: SdxlCheckpoint, timestep: Float32Array, textEmbeds: Float32Array, timeIds: Float32Array): Promise<Record<string, Float32Array>> {
  const cfg = ckpt.unetConfig;
  const a = cfg.addition!;
  const b = timestep.length;
  const g = createGraph('sdxl_time');
  const t = g.input('timestep', 'f32', [b]);
  const te = g.input('text_embeds', 'f32', [b, a.textEmbedDim]);
  const ti = g.input('time_ids', 'f32', [b, a.timeIds]);
  const e = unetTimeEmbedding(cfg, t, te, ti);
  g.output('time_proj', e.proj);
  g.output('time_embedding', e.temb);
  g.output('add_embedding', e.added!);
  g.output('add_time_proj', timestepProjection(op.reshape(ti, [b * a.timeIds]), a.timeEmbedDim, cfg.time.flipSinToCos, cfg.time.freqShift));
  const unet = openUNetCheckpoint(join(dir, 'unet'));
  try {
    const model = await compile(g, unetWeights(unet.reader, cfg).store, { cacheDir: false });
    const out = await model.run({ timestep, text_embeds: textEmbeds, time_ids: timeIds });
    await model.release();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    unet.reader.close();
  }
}

/** diffusers' output image: round(255 · clamp(x/2 + 0.5, 0, 1)), HWC. */
function toUint8(decoded: Float32Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, decoded[c * h * w + i] / 2 + 0.5)));
  return out;
}

async function replay(dir: string, ckpt: SdxlCheckpoint, run: Run): Promise<Record<string, ArrayLike<number>>> {
  const args = run.call_args;
  const got: Record<string, ArrayLike<number>> = {};
  const cfg = Number(args.guidance_scale ?? 5);
  const useCfg = cfg > 1;
  const gen = createTorchGenerator(Number(/manual_seed\((\d+)\)/.exec(args.generator)![1]));
  const vae = await ckpt.useVae();
  const scale = ckpt.latentScale;

  // Image size and the img2img source latent.
  let width = Number(args.width ?? 0);
  let height = Number(args.height ?? 0);
  let initLatents: Float32Array | undefined;
  if (run.kind === 'img2img') {
    const img = await decodeImage(join(dir, args.image), 3);
    width = img.width;
    height = img.height;
    const x = new Float32Array(3 * width * height);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) x[c * width * height + i] = (img.data[i * 3 + c] / 255) * 2 - 1;
    const enc = await vae.encode({ shape: [1, 3, height, width], data: x });
    const eps = gen.randn(enc.mean.shape);
    const sample = enc.mean.data.map((m, i) => Math.fround(m + Math.fround(Math.fround(Math.exp(Math.fround(0.5 * enc.logvar.data[i]))) * eps[i])));
    initLatents = sample.map((v) => Math.fround(scale * v));
    Object.assign(got, { posterior_mean: enc.mean.data, posterior_logvar: enc.logvar.data, posterior_eps: eps, posterior_sample: sample, init_latents: initLatents });
  }
  const f = ckpt.vaeScaleFactor;
  const [h, w] = [height / f, width / f];

  // Conditioning: prompt_2 feeds bigG, prompt ViT-L; without a negative (and CFG) diffusers uses zeros.
  const text = (g: string | undefined, l: string | undefined) => ({ g: g ?? l ?? '', l: l ?? '' });
  const pos = await encodeSdxlPrompt(ckpt, text(args.prompt_2 ?? args.prompt, args.prompt), { squareBrackets: false });
  let neg: SdxlConditioning | undefined;
  if (useCfg) {
    neg = args.negative_prompt === undefined
      ? { context: { data: new Float32Array(pos.context.data.length), tokens: pos.context.tokens, hidden: pos.context.hidden }, pooled: new Float32Array(pos.pooled.length) }
      : await encodeSdxlPrompt(ckpt, text(args.negative_prompt_2 ?? args.negative_prompt, args.negative_prompt), { squareBrackets: false });
  }
  const ids = (t: string, pad: number) => weightedTokenChunks(ckpt.tokenizer, parsePrompt(t, { squareBrackets: false }).segments, { padToken: pad })[0].ids;
  got.prompt_te1_input_ids = ids(args.prompt, ckpt.textL!.padToken);
  got.prompt_te2_input_ids = ids(args.prompt_2 ?? args.prompt, ckpt.textG.padToken);
  if (args.negative_prompt !== undefined) {
    got.negative_te1_input_ids = ids(args.negative_prompt, ckpt.textL!.padToken);
    got.negative_te2_input_ids = ids(args.negative_prompt_2 ?? args.negative_prompt, ckpt.textG.padToken);
  }
  Object.assign(got, { prompt_embeds: pos.context.data, pooled_prompt_embeds: pos.pooled });
  if (neg) Object.assign(got, { negative_prompt_embeds: neg.context.data, negative_pooled_prompt_embeds: neg.pooled });

  // Micro-conditioning (diffusers: (h, w) tuples; negatives only when both negative sizes are given, with the positive crops).
  const [oh, ow] = args.original_size ?? [height, width];
  const [ct, cl] = args.crops_coords_top_left ?? [0, 0];
  const [th, tw] = args.target_size ?? [height, width];
  const timeIds = sdxlTimeIds(ckpt, width, height, { height: oh, width: ow, cropH: ct, cropW: cl, targetHeight: th, targetWidth: tw });
  const negSizes = args.negative_original_size && args.negative_target_size;
  const negTimeIds = negSizes
    ? sdxlTimeIds(ckpt, width, height, { height: args.negative_original_size[0], width: args.negative_original_size[1], cropH: ct, cropW: cl, targetHeight: args.negative_target_size[0], targetWidth: args.negative_target_size[1] })
    : timeIds;
  got.add_time_ids = timeIds;
  got.negative_add_time_ids = negTimeIds;
  const B = useCfg ? 2 : 1;
  const unetTextEmbeds = useCfg ? concat([neg!.pooled, pos.pooled]) : pos.pooled;
  const unetTimeIds = useCfg ? concat([negTimeIds, timeIds]) : timeIds;
  const ctx = useCfg ? concat([neg!.context.data, pos.context.data]) : pos.context.data;
  Object.assign(got, { unet_text_embeds: unetTextEmbeds, unet_time_ids: unetTimeIds });

  // Scheduler and initial latents.
  const sched = createEuler(readJson(join(dir, 'scheduler', 'scheduler_config.json')));
  const steps = Number(args.num_inference_steps);
  sched.setTimesteps(steps);
  got.scheduler_timesteps = Float32Array.from(sched.timesteps);
  got.scheduler_sigmas = sched.sigmas;
  let timesteps = sched.timesteps.slice();
  let latents: Float32Array;
  if (initLatents) {
    const strength = Number(args.strength);
    const tStart = steps - Math.min(Math.trunc(steps * strength), steps);
    timesteps = timesteps.slice(tStart);
    const noise = gen.randn([1, 4, h, w]);
    const sigma = sched.sigmaAt(timesteps[0]);
    latents = initLatents.map((v, i) => Math.fround(v + Math.fround(noise[i] * sigma)));
    Object.assign(got, { noise, latent_timestep: [timesteps[0]] });
  } else {
    const noise = gen.randn([1, 4, h, w]);
    latents = noise.map((v) => Math.fround(v * sched.initNoiseSigma));
    got.initial_noise = noise;
  }
  got.initial_latents = latents;
  got.timesteps = Float32Array.from(timesteps);

  // Denoising loop.
  const unet = await ckpt.useUNet();
  const trace = { unet_inputs: [] as Float32Array[], noise_pred_unet: [] as Float32Array[], noise_pred_guided: [] as Float32Array[], latents_after_step: [] as Float32Array[] };
  for (const [k, t] of timesteps.entries()) {
    const xIn = sched.scaleModelInput(useCfg ? concat([latents, latents]) : latents, t);
    const timestep = new Float32Array(B).fill(t);
    if (k === 0) {
      const te = await timeEmbeddingTrace(dir, ckpt, timestep, unetTextEmbeds, unetTimeIds);
      Object.assign(got, { step0_unet_time_proj: te.time_proj, step0_unet_time_embedding: te.time_embedding, step0_unet_add_time_proj: te.add_time_proj, step0_unet_add_embedding: te.add_embedding });
    }
    const out = await unet.forward({ batch: B, height: h, width: w, seqLen: pos.context.tokens, controlNet: false }, { sample: xIn, timestep, encoderHiddenStates: ctx, textEmbeds: unetTextEmbeds, timeIds: unetTimeIds });
    const per = latents.length;
    let guided = out;
    if (useCfg) {
      guided = new Float32Array(per);
      const g = Math.fround(cfg);
      for (let i = 0; i < per; i++) guided[i] = Math.fround(out[i] + Math.fround(g * Math.fround(out[per + i] - out[i])));
    }
    latents = sched.step(guided, t, latents).prevSample;
    gen.randn([1, 4, h, w]); // Euler's unused churn draw keeps the generator in step
    trace.unet_inputs.push(xIn);
    trace.noise_pred_unet.push(out);
    trace.noise_pred_guided.push(guided);
    trace.latents_after_step.push(latents);
  }
  for (const [k, v] of Object.entries(trace)) got[k] = concat(v);

  const decodeInput = latents.map((v) => Math.fround(v / scale));
  got.vae_decode_input = decodeInput;
  const decoded = (await vae.decode({ shape: [1, 4, h, w], data: decodeInput }, { tiled: false })).data;
  got.decoded = decoded;
  got.image_uint8 = toUint8(decoded, height, width);
  return got;
}

const tolerance = (name: string): number => {
  if (/embeds|input_ids/.test(name)) return TOL_TEXT;
  if (name === 'vae_decode_input') return TOL / 0.13025;
  return TOL;
};

export const handler: GoldenHandler = {
  name: 'sdxl pipeline',
  recognise: isSdxlGolden,
  register(dir) {
    const manifest = readJson<Manifest>(join(dir, 'manifest.json'));
    let ckpt: SdxlCheckpoint;
    beforeAll(() => {
      ckpt = loadSdxlCheckpoint(dir, { tokenizerDir: TABLES, cacheDir: false });
    });
    afterAll(async () => {
      await ckpt?.release();
    });
    it('loads as an SDXL base checkpoint (both towers, 6 time ids, 0.13025)', () => {
      expect(ckpt.kind).toBe('base');
      expect(ckpt.textL?.padToken).toBe(ckpt.tokenizer.eosId);
      expect(ckpt.textG.padToken).toBe(0);
      expect(ckpt.unetConfig.addition).toMatchObject({ textEmbedDim: 32, timeIds: 6 });
      expect(ckpt.latentScale).toBeCloseTo(0.13025, 6);
    });
    for (const [name, run] of Object.entries(manifest.runs)) {
      it(`${name}: every recorded tensor, step by step`, async () => {
        const got = await replay(dir, ckpt, run);
        let checked = 0;
        for (const [tname, entry] of Object.entries(run.tensors)) {
          const expected = readBin(join(dir, entry.file), entry.dtype);
          const actual = got[tname];
          expect(actual, `${name}: no value computed for ${tname}`).toBeDefined();
          if (tname === 'image_uint8') {
            let worst = 0;
            let differing = 0;
            for (let i = 0; i < expected.length; i++) {
              const d = Math.abs(Number(actual[i]) - Number(expected[i]));
              if (d) differing++;
              worst = Math.max(worst, d);
            }
            console.log(`[golden] sdxl ${name} image_uint8: max abs err ${worst} (tol 1), ${differing} values differ`);
            expect(worst).toBeLessThanOrEqual(1);
          } else if (entry.dtype === 'int64') {
            expect(Array.from(actual, Number), `${name} ${tname}`).toEqual(Array.from(expected as BigInt64Array, Number));
          } else {
            expectClose(`sdxl ${name} ${tname}`, actual, expected as Float32Array, tolerance(tname));
          }
          checked++;
        }
        expect(checked).toBe(Object.keys(run.tensors).length);
      });
    }
  },
};
