// Golden handler for ColorizeDiffusion against the ORIGINAL code (golden/colorize_diffusion/, written by
// tellurion-kanata/colorizeDiffusion on CPU): the single file is loaded exactly as a user's checkpoint
// (loadColorizeDiffusion: parts by key prefix, UNet config inferred from the keys, LoRA read from the keys),
// then for every recorded call of manifest.json:
//   unet/<mode>   prepare_conditions (encoders, background path, context, mask, hints) and one UNet forward on
//                 the guidance batch [cond, zero reference, blank sketch], with the traced cross-attentions
//   runs/<run>    generate(): initial noise, every step's UNet input/output, guided prediction and latents,
//                 the final latents, the decoded image (1e-4) and its uint8 picture (±1)
// Nothing here knows the golden's numbers: modes, scales, seeds, steps and guidance come from the manifest.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { fileExists, maxAbsDiff, readBin, readJson, type BinDType } from '../io.ts';
import { loadColorizeDiffusion, type ColorizeDiffusionCheckpoint } from '../../../src/pipelines/colorize/colorizeDiffusionCheckpoint.ts';
import {
  colorizeDiffusionGenerate, colorizeUNetBatch, prepareColorizeConditions, sketchMaskToLatent, type ColorizeConditionInputs, type F32Tensor,
} from '../../../src/pipelines/colorize/colorizeDiffusion.ts';
import { signedToImage } from '../../../src/pipelines/colorize/colorizeDiffusionPipeline.ts';
import { attentionMapSize, attentionPaths, traceOutputName } from '../../../src/models/splitAttention/colorizeModel.ts';
import { defaultLoraRank } from '../../../src/models/splitAttention/splitCrossAttention.ts';
import { referenceScales, type ReferenceStrength } from '../../../src/models/splitAttention/referenceStrength.ts';
import { parseColorizeMode, type ColorizeMode } from '../../../src/models/splitAttention/modes.ts';
import { ldmLayout } from '../../../src/models/unet/load.ts';
import { ldmToDiffusersUnetKey } from '../../../src/weights/keymaps/ldmUnet.ts';

const TOL = 1e-4;

interface TensorEntry { file: string; dtype: BinDType; shape: number[] }
interface UNetCall {
  prepare_conditions_flags: { fg_enhance: boolean; bg_enhance: boolean };
  timestep: number;
  scales?: { reference: number; fg: number; bg: number; merge: number };
  batch: string[];
}
interface RunCall {
  mode: string;
  gs: [number, number];
  parameterization: 'v' | 'eps';
  step: number;
  seed: number;
  timesteps: number[];
}
export interface Manifest {
  model_file: { file: string };
  constants: {
    ts_r: number; ts_s: number; hook_blocks: string[];
    cas_strength: { level_control: boolean; scales: Record<string, number> | number[] };
  };
  calls: { unet: Record<string, UNetCall>; runs: Record<string, RunCall> };
  tensors: Record<string, TensorEntry>;
}

export function readManifest(dir: string): Manifest | undefined {
  const p = join(dir, 'manifest.json');
  if (!fileExists(p)) return undefined;
  try {
    const m = readJson<Partial<Manifest>>(p);
    return m.calls?.unet && m.calls.runs && m.model_file?.file ? (m as Manifest) : undefined;
  } catch {
    return undefined;
  }
}

/** The mode a call's prepare_conditions flags select. */
function modeOf(flags: { fg_enhance: boolean; bg_enhance: boolean }): ColorizeMode {
  if (flags.fg_enhance && flags.bg_enhance) return 'fig2fig';
  if (flags.fg_enhance) return 'fg_enhance';
  if (flags.bg_enhance) return 'bg_enhance';
  return 'vanilla';
}

/**
 * The original keeps each attn2's reference_scale on the model between calls, and the golden's calls ran in
 * one process in manifest order: a call with `scales` set every block's reference_scale, and each run's
 * generate() then applied the demo's strength (constants.cas_strength), which with level control leaves
 * blocks 6 and 13–15 untouched. This replays that state for the call at `upTo` (unet calls, then runs).
 */
export function strengthSequence(manifest: Manifest): ((blocks: number) => number[])[] {
  const steps: ((prev: number[], blocks: number) => number[])[] = [];
  for (const call of Object.values(manifest.calls.unet)) steps.push((prev, n) => (call.scales ? referenceScales(call.scales.reference, n) : prev));
  const cas = manifest.constants.cas_strength;
  const strength: ReferenceStrength = cas.level_control ? { levels: cas.scales as Record<string, number> } : (cas.scales as number[]);
  for (const _ of Object.values(manifest.calls.runs)) steps.push((prev, n) => referenceScales(strength, n, prev));
  return steps.map((_, k) => (n: number) => steps.slice(0, k + 1).reduce((prev, f) => f(prev, n), new Array<number>(n).fill(1)));
}

/** Compares and logs every tensor of a test, then fails once with the list of those over tolerance. */
function checker() {
  const failures: string[] = [];
  return {
    close(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
      const err = maxAbsDiff(actual, expected);
      console.log(`[golden] ${label}: max abs err ${err.toExponential(3)} (tol ${tol})`);
      if (!(err <= tol)) failures.push(`${label}: ${err.toExponential(3)} > ${tol}`);
    },
    done(): void {
      expect(failures, failures.join('\n')).toEqual([]);
    },
  };
}

const BRANCH = { cond: 'cond', zero_reference: 'zeroReference', blank_sketch: 'blankSketch' } as const;

/**
 * The golden's own rounding noise. When the UNet's lowest level runs at 1×1 with one channel per GroupNorm
 * group (the tiny model at a 64² sketch), every GroupNorm there normalises single values: mathematically it
 * outputs its bias whatever the input, so the middle block's attn2 input (attn*_x of middle_block) is the same
 * for every batch item. torch computes it as x·s + (β − s·mean) with s = γ/√ε (≈ 316–1000·γ), so what the
 * golden records there is β plus rounding noise amplified ~1000×, and that noise flows into everything
 * downstream (up path, UNet output, sampling). It is measured here as the largest difference between the
 * batch items of that tensor (0 when the lowest level is not degenerate); a value's distance from the
 * noise-free one can reach about twice that, which is the tolerance downstream.
 */
function goldenNoise(manifest: Manifest, cp: ColorizeDiffusionCheckpoint, hooks: string[], tensor: (n: string) => F32Tensor, latent: [number, number]): number {
  const cfg = cp.unetConfig;
  const mid = hooks.findIndex((p) => p.startsWith('mid_block.'));
  const [h, w] = attentionMapSize(cfg, 'mid_block.attentions.0.transformer_blocks.0.attn2', ...latent);
  if (mid < 0 || h * w !== 1 || cfg.mid.channels !== cfg.normNumGroups) return 0;
  let noise = 0;
  for (const name of Object.keys(manifest.calls.unet)) {
    const x = tensor(`unet/${name}/attn${mid}_x`);
    const n = x.data.length / x.shape[0];
    for (let b = 1; b < x.shape[0]; b++) for (let i = 0; i < n; i++) noise = Math.max(noise, Math.abs(x.data[b * n + i] - x.data[i]));
  }
  return noise;
}

export const handler: GoldenHandler = {
  name: 'colorize diffusion (original code)',
  recognise(dir) {
    return readManifest(dir) !== undefined && fileExists(join(dir, 'tensors', 'inputs'));
  },
  register(dir) {
    const manifest = readManifest(dir)!;
    const tensor = (name: string): F32Tensor => {
      const e = manifest.tensors[name];
      expect(e, `manifest tensor ${name}`).toBeDefined();
      const raw = readBin(join(dir, e.file), e.dtype);
      const data = raw instanceof BigInt64Array ? Float32Array.from(raw, Number) : Float32Array.from(raw as ArrayLike<number>);
      return { shape: e.shape, data };
    };
    const has = (name: string) => name in manifest.tensors;
    const inputs = (): ColorizeConditionInputs => ({
      sketch: tensor('inputs/sketch'), reference: tensor('inputs/reference'),
      sketchMask: tensor('inputs/smask_latent'), referenceMask: tensor('inputs/rmask'),
    });
    const { ts_r: tsR, ts_s: tsS } = manifest.constants;
    const strengths = strengthSequence(manifest);
    let callIndex = 0;
    let cp: ColorizeDiffusionCheckpoint;
    let hooks: string[];
    /** Tolerance of tensors downstream of the UNet's lowest level: 1e-4, or twice the golden's own noise if larger. */
    let noisyTol = TOL;
    beforeAll(async () => {
      cp = await loadColorizeDiffusion(join(dir, manifest.model_file.file), { cacheDir: false, threads: 1 });
      const layout = ldmLayout(cp.unetConfig);
      hooks = manifest.constants.hook_blocks.map((b) => ldmToDiffusersUnetKey(`${b}.to_q.weight`, layout)!.replace(/\.to_q\.weight$/, ''));
      const latent = manifest.tensors['inputs/smask_latent'].shape.slice(2) as [number, number];
      const noise = goldenNoise(manifest, cp, hooks, tensor, latent);
      noisyTol = Math.max(TOL, 2 * noise);
      console.log(`[golden] colorize: the golden's own noise downstream of the UNet's lowest level ${noise.toExponential(3)} → tolerance there ${noisyTol.toExponential(3)}`);
    }, 120_000);
    afterAll(async () => {
      await cp?.release();
    });

    it('loads the single file as a user checkpoint: config from the keys, LoRA in every attn2', () => {
      expect(cp.modes).toEqual(['vanilla', 'fg_enhance', 'bg_enhance', 'fig2fig']);
      expect(cp.lora.loraBlocks).toEqual(['down', 'mid', 'up']);
      expect(attentionPaths(cp.unetConfig).every((p) => cp.lora.loraAt(p))).toBe(true);
      // Ranks as the original builds them (SplitLoraInjectedLinear: fg 4, bg int(0.5·min(in, out))).
      for (const p of attentionPaths(cp.unetConfig)) {
        const c = cp.lora.channelsAt!(p)!;
        for (const [proj, inF] of [['to_q', c], ['to_k', cp.unetConfig.crossAttentionDim], ['to_v', cp.unetConfig.crossAttentionDim]] as const) {
          for (const br of ['fg', 'bg'] as const) expect(cp.lora.ranks(`${p}.${proj}`, br, inF, c)).toBe(defaultLoraRank(`${p}.${proj}`, br, inF, c));
        }
      }
    });

    it('sketch mask at latent size is scaled_resize(mask, 1/8), bicubic', () => {
      const c = checker();
      c.close('colorize smask_latent', sketchMaskToLatent(tensor('inputs/smask_image')).data, tensor('inputs/smask_latent').data, 1e-6);
      c.done();
    });

    for (const [name, call] of Object.entries(manifest.calls.unet)) {
      const strengthAt = strengths[callIndex++];
      it(`unet/${name}: conditions (1e-4), every traced attn2 on the recorded inputs (1e-4), UNet forward`, async () => {
        const c = checker();
        const mode = modeOf(call.prepare_conditions_flags);
        const s = call.scales;
        const cond = await prepareColorizeConditions(cp, inputs(), { mode, referenceThreshold: tsR, sketchThreshold: tsS });
        const pre = `unet/${name}/`;
        // Encoder traces where the golden has them (fig2fig records the whole background path).
        if (has(`${pre}clip_encode0_full_output`)) {
          const full = tensor(`${pre}clip_encode0_full_output`);
          const [, l, dim] = full.shape;
          c.close(`colorize ${name} clip_encode0 local tokens (full[:, 1:])`, cond.trace.clip_encode0_local_output.data, full.data.subarray(dim, l * dim), TOL);
        }
        const encoderTraces = [
          'clip_preprocess0', 'clip_encode1_local_input', 'clip_encode1_local_output', 'thresh_embedder_output',
          'bg_transformer_input', 'bg_transformer_output', ...cond.hints.map((_, k) => `sketch_encoder_hint${k}`),
        ];
        for (const n of encoderTraces) {
          if (!has(pre + n)) continue;
          expect(cond.trace[n], `traced ${n}`).toBeDefined();
          c.close(`colorize ${name} ${n}`, cond.trace[n].data, tensor(pre + n).data, TOL);
        }
        if (has(`${pre}thresh_embedder_input`)) expect(Array.from(tensor(`${pre}thresh_embedder_input`).data)).toEqual([Math.fround(tsR), Math.fround(tsS)]);
        expect(cond.context.shape).toEqual(manifest.tensors[`${pre}context`].shape);
        c.close(`colorize ${name} context`, cond.context.data, tensor(`${pre}context`).data, TOL);
        if (has(`${pre}mask`)) c.close(`colorize ${name} mask`, cond.mask!.data, tensor(`${pre}mask`).data, 0);
        else expect(cond.mask).toBeUndefined();

        const paths = attentionPaths(cp.unetConfig);
        const referenceScale = strengthAt(paths.length);
        const model = cp.model({ mode, sketchThreshold: tsS, referenceScale, fgScale: s?.fg, bgScale: s?.bg, mergeScale: s?.merge });
        const branches = call.batch.map((b) => BRANCH[b as keyof typeof BRANCH]);
        const b = branches.length;
        const [lh, lw] = [cond.latentHeight, cond.latentWidth];
        // Each traced attn2 alone, on the golden's own input (its recorded norm2 output), context and mask.
        const context = new Float32Array(b * cond.context.data.length);
        branches.forEach((br, k) => { if (br !== 'zeroReference') context.set(tensor(`${pre}context`).data, k * cond.context.data.length); });
        let probed = 0;
        for (const [i, path] of hooks.entries()) {
          const [mh, mw] = attentionMapSize(cp.unetConfig, path, lh, lw);
          const feeds: Record<string, Float32Array> = { x: tensor(`${pre}attn${i}_x`).data, context };
          if (cond.mask) feeds.sketch_mask = Float32Array.from({ length: b * lh * lw }, (_, k) => cond.mask!.data[k % (lh * lw)]);
          const got = await model.probeAttention(path, { batch: b, mapHeight: mh, mapWidth: mw, height: lh, width: lw, tokens: cond.context.shape[1] }, feeds);
          for (const kind of ['attn', 'fg_attn', 'bg_attn', 'mask_resized', 'out']) {
            const key = `${pre}attn${i}_${kind}`;
            if (!has(key)) continue;
            expect(got[kind], `probe ${kind} of ${path}`).toBeDefined();
            c.close(`colorize ${name} attn${i}_${kind} (on the recorded attn${i}_x)`, got[kind], tensor(key).data, TOL);
            probed++;
          }
          // _scale = [reference_scale, scale_factor, mask_threshold, fg_scale, bg_scale, merge_scale]
          const scale = Array.from(tensor(`${pre}attn${i}_scale`).data);
          const block = paths.indexOf(path);
          expect([referenceScale[block], mh / lh, tsS, s?.fg ?? 1, s?.bg ?? 1, s?.merge ?? 0].map(Math.fround)).toEqual(scale.map(Math.fround));
        }
        expect(probed).toBeGreaterThanOrEqual(hooks.length * 2);

        // The whole UNet on the guidance batch. The traced attn2 inputs upstream of the lowest level must match
        // at 1e-4; downstream ones and the output within the golden's noise there (see goldenNoise).
        const { out, traces } = await colorizeUNetBatch(model, cond, branches, tensor('inputs/unet_latents').data, call.timestep, hooks);
        const upstream = (path: string) => path.startsWith('down_blocks.') && attentionMapSize(cp.unetConfig, path, lh, lw)[0] > attentionMapSize(cp.unetConfig, 'mid_block.attentions.0.transformer_blocks.0.attn2', lh, lw)[0];
        for (const [i, path] of hooks.entries()) {
          for (const kind of ['x', 'attn', 'fg_attn', 'bg_attn', 'mask_resized', 'out']) {
            const key = `${pre}attn${i}_${kind}`;
            if (!has(key)) continue;
            // Past the noisy levels only the attn2 input is compared: its outputs are checked on the recorded input above.
            if (!upstream(path) && kind !== 'x') continue;
            c.close(`colorize ${name} attn${i}_${kind} (in the UNet)`, traces[traceOutputName(path, kind)], tensor(key).data, upstream(path) ? TOL : noisyTol);
          }
        }
        c.close(`colorize ${name} unet_out`, out, tensor(`${pre}unet_out`).data, noisyTol);
        c.done();
      }, 120_000);
    }

    for (const [name, run] of Object.entries(manifest.calls.runs)) {
      const strengthAt = strengths[callIndex++];
      it(`runs/${name}: noise (1e-4), every step and the final latents (within the golden's noise), decoded image (uint8 ±1)`, async () => {
        const c = checker();
        const pre = `runs/${name}/`;
        const res = await colorizeDiffusionGenerate(cp, inputs(), {
          mode: parseColorizeMode(run.mode), seed: run.seed, steps: run.step, referenceGuidance: run.gs[0], sketchGuidance: run.gs[1],
          referenceScale: strengthAt(attentionPaths(cp.unetConfig).length),
          referenceThreshold: tsR, sketchThreshold: tsS, prediction: run.parameterization === 'eps' ? 'epsilon' : 'v_prediction', trace: true,
        });
        const trace = res.trace!;
        expect(res.timesteps).toEqual(Array.from(tensor(`${pre}timesteps`).data));
        expect(res.timesteps).toEqual(run.timesteps);
        c.close(`colorize ${name} initial_noise`, trace.initialNoise, tensor(`${pre}initial_noise`).data, TOL);
        expect(trace.steps.length).toBe(run.step);
        trace.steps.forEach((st, i) => {
          expect(Array.from(tensor(`${pre}step${i}_unet_t`).data)).toEqual(new Array(st.unetOut.length / trace.initialNoise.length).fill(st.unetT));
          c.close(`colorize ${name} step${i}_unet_in`, st.unetIn, tensor(`${pre}step${i}_unet_in`).data, i === 0 ? TOL : noisyTol);
          c.close(`colorize ${name} step${i}_unet_out`, st.unetOut, tensor(`${pre}step${i}_unet_out`).data, noisyTol);
          c.close(`colorize ${name} step${i}_guided`, st.guided, tensor(`${pre}step${i}_guided`).data, noisyTol);
          c.close(`colorize ${name} step${i}_latents_after`, st.latentsAfter, tensor(`${pre}step${i}_latents_after`).data, noisyTol);
        });
        c.close(`colorize ${name} final_latents`, res.latents.data, tensor(`${pre}final_latents`).data, noisyTol);
        const decoded = tensor(`${pre}decoded`);
        c.close(`colorize ${name} decoded`, res.decoded!.data, decoded.data, noisyTol);
        const [, , h, w] = decoded.shape;
        const crop = { left: 0, top: 0, width: w, height: h };
        const ours = signedToImage(res.decoded!, crop).data;
        const theirs = signedToImage(decoded, crop).data;
        let worst = 0;
        for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
        console.log(`[golden] colorize ${name} image uint8: max abs err ${worst} (tol 1)`);
        expect(worst).toBeLessThanOrEqual(1);
        c.done();
      }, 300_000);
    }
  },
};
