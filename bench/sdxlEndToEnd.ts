// `npm run bench -- sdxl` (end-to-end case): a 1024² SDXL txt2img with CFG through generateSdxl — both text
// towers, the UNet and the VAE at their real sizes (stable-diffusion-xl-base-1.0 configs), random weights
// stored fp16 as a user's fp16 checkpoint keeps them. A full 20-step run takes many minutes on 2 cores, so
// INKFLOW_SDXL_E2E_STEPS steps are sampled (default 2) and 20 steps are extrapolated: the first step (which
// includes compiling the UNet session) plus 19 × the steady per-step time of the later steps, plus text
// encoding and decoding, which do not depend on the step count. Each stage is printed as it ends (a run cut
// short still reports what it measured), with the load average beside.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph } from '../src/graph/graph.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import type { WeightStore } from '../src/graph/weights.ts';
import { parseClipTextConfig } from '../src/models/clip/config.ts';
import { clipTextGraph } from '../src/models/clip/textEncoder.ts';
import { sdxlCheckpointFromParts } from '../src/models/checkpoint/sdxlCheckpoint.ts';
import { loadClipTokenizer } from '../src/models/tokenizer/clipTokenizer.ts';
import { parseUNetConfig, withTextEmbedDim } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { vaeDecodeGraph } from '../src/models/vae/decoder.ts';
import { vaeEncodeGraph } from '../src/models/vae/encoder.ts';
import { generateSdxl } from '../src/pipelines/generate/sdxlGenerate.ts';
import { SDXL_TOKENIZER_DIR } from '../src/pipelines/generate/tinySdxlCheckpoint.ts';
import { SDXL_BASE_UNET_CONFIG } from './sdxl.ts';

/** text_encoder / text_encoder_2 / vae config.json of stable-diffusion-xl-base-1.0 (the fields that matter). */
const VIT_L = { hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, hidden_act: 'quick_gelu', projection_dim: 768, max_position_embeddings: 77, vocab_size: 49408 };
const BIG_G = { hidden_size: 1280, intermediate_size: 5120, num_attention_heads: 20, num_hidden_layers: 32, hidden_act: 'gelu', projection_dim: 1280, max_position_embeddings: 77, vocab_size: 49408 };
const SDXL_VAE = { block_out_channels: [128, 256, 512, 512], layers_per_block: 2, latent_channels: 4, norm_num_groups: 32, in_channels: 3, out_channels: 3, scaling_factor: 0.13025 };

/** Random weights marked as fp16-stored (the compiled models keep them f16, as for an fp16 checkpoint). */
function f16Random(...graphs: Graph[]): WeightStore {
  const stores = graphs.map((g, i) => randomWeights(g, { seed: i + 1 }));
  return {
    get(name) {
      for (const s of stores) {
        const p = s.get(name);
        if (p) return { ...p, sourceDType: 'f16' };
      }
      return undefined;
    },
    keys: () => new Set(stores.flatMap((s) => [...s.keys()])),
    fingerprint: () => stores.map((s) => s.fingerprint()).join(':'),
  };
}

export async function runSdxlEndToEnd(): Promise<void> {
  const steps = Math.max(2, Number(process.env.INKFLOW_SDXL_E2E_STEPS ?? 2));
  const cache = mkdtempSync(join(tmpdir(), 'inkflow-bench-sdxl-e2e-'));
  try {
    const l = parseClipTextConfig(VIT_L, 'ViT-L');
    const g = parseClipTextConfig(BIG_G, 'bigG');
    const unetConfig = withTextEmbedDim(parseUNetConfig(SDXL_BASE_UNET_CONFIG), g.projection_dim);
    const vaeConfig = parseVaeConfig(SDXL_VAE);
    const ckpt = sdxlCheckpointFromParts({
      path: 'random-weights SDXL base (fp16-stored)', format: 'diffusers', kind: 'base', prediction: 'eps', predictionReason: 'bench',
      unetConfig, unetStore: f16Random(buildUNetGraph(unetConfig, { batch: 1, height: 8, width: 8, seqLen: 1 })),
      vaeConfig, vaeStore: f16Random(vaeDecodeGraph(vaeConfig, [1, 4, 1, 1]), vaeEncodeGraph(vaeConfig, [1, 3, 8, 8])),
      textL: { config: l, store: f16Random(clipTextGraph(l, { batch: 1, seqLen: 1 })), padToken: 49407 },
      textG: { config: g, store: f16Random(clipTextGraph(g, { batch: 1, seqLen: 1, withProjection: true })), padToken: 0 },
      tokenizer: loadClipTokenizer(SDXL_TOKENIZER_DIR), readers: [],
    }, { cacheDir: cache });
    try {
      const t0 = performance.now();
      const stepAt: number[] = [];
      let textDone = t0;
      const mark = (what: string) => console.log(`  [e2e] ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s (load avg ${loadavg()[0].toFixed(1)}, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB)`);
      const r = await generateSdxl(ckpt, {
        prompt: 'a knight on horseback in a misty forest, comic panel, ink and watercolour', negative: 'blurry, low quality',
        seed: 1, steps, cfg: 7, sampler: 'euler', scheduler: 'normal', width: 1024, height: 1024,
      }, {
        onProgress: (p) => {
          if (p.stage === 'text' && p.step === 1) {
            textDone = performance.now();
            mark('text encoded (both towers compiled)');
          }
          if (p.stage === 'sample' && p.step > 0) {
            stepAt[p.step] = performance.now();
            mark(`step ${p.step}/${steps}${p.step === 1 ? ' (with the UNet compile)' : ''}`);
          }
          if (p.stage === 'decode' && p.step === 1) mark('decoded 1024² (tiled)');
        },
      });
      const totalMs = performance.now() - t0;
      const t = r.timings;
      const steady = (stepAt[steps] - stepAt[1]) / (steps - 1);
      const first = stepAt[1] - textDone;
      const unetGflop = graphFlops(buildUNetGraph(unetConfig, { batch: 2, height: 128, width: 128, seqLen: 77 })) / 1e9;
      const rest = totalMs - t.sampleMs;
      const est20 = rest + first + 19 * steady;
      const peakMB = process.resourceUsage().maxRSS / 1024;
      console.log(`SDXL txt2img 1024² CFG 7, euler, ${steps} steps measured: total ${(totalMs / 1000).toFixed(1)} s = text ${(t.textMs / 1000).toFixed(1)} s + sampling ${(t.sampleMs / 1000).toFixed(1)} s (first step ${(first / 1000).toFixed(1)} s with the UNet compile, then ${(steady / 1000).toFixed(1)} s/step) + decode ${(t.decodeMs / 1000).toFixed(1)} s; peak RSS ${peakMB.toFixed(0)} MB (load avg ${loadavg()[0].toFixed(1)})`);
      console.log(`UNet b2 (CFG) inside the pipeline: ${unetGflop.toFixed(0)} GFLOP per step → ${(unetGflop / (steady / 1000)).toFixed(0)} GFLOPS effective`);
      console.log(`SDXL txt2img 1024² CFG 20 steps (extrapolated from the ${steps} measured): ${(est20 / 1000).toFixed(0)} s ≈ ${(est20 / 60000).toFixed(1)} min (first step + 19 × the steady step + text + decode)`);
    } finally {
      await ckpt.release();
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--sdxl-e2e') await runSdxlEndToEnd();
