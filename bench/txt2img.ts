// txt2img benchmark: an SD1.5-sized checkpoint on random weights (UNet 860M, CLIP ViT-L text 123M,
// VAE decoder 49M params, fp32), 512×512, 20 steps dpmpp_2m/karras, CFG 8 (batch-2 UNet), through the
// real pipeline (conditioning → ComfyUI sampler → VAE decode). A cold pass (1 step) compiles every
// session into a temporary compile cache and is reported separately; the warm pass is the number users
// see once models are loaded. Takes several minutes and ~6 GB of RAM; run it on a quiet machine.
// INKFLOW_BENCH_TXT2IMG_FAST=1 adds the lossy modes on the same prompt and seed — step caching (full UNet
// every 3 steps), an int8 checkpoint, and both — each with its time ratio to fp32 and the error it adds
// (image PSNR and latent relative L2 vs the fp32 result); each compiles its own sessions first (cold pass).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { vaeDecodeGraph } from '../src/models/vae/decoder.ts';
import { parseClipTextConfig } from '../src/models/clip/config.ts';
import { clipTextGraph } from '../src/models/clip/textEncoder.ts';
import { loadClipTokenizer } from '../src/models/tokenizer/clipTokenizer.ts';
import { checkpointFromParts, type CheckpointParts } from '../src/models/checkpoint/loadCheckpoint.ts';
import { ldmLayout } from '../src/models/unet/load.ts';
import { generate, type GenerateTimings } from '../src/pipelines/generate/generate.ts';
import { psnr } from '../src/imaging/metrics.ts';
import { relativeError } from './fanInWeights.ts';

const TOKENIZER_DIR = join(import.meta.dirname, '../../shared/data/clip-tokenizer');

export interface Txt2imgBenchResult {
  cold: GenerateTimings;
  warm: GenerateTimings;
  steps: number;
  msPerStep: number;
  rssMB: number;
}

export async function runTxt2imgBench(opts: { steps?: number; size?: number } = {}): Promise<Txt2imgBenchResult> {
  const steps = opts.steps ?? 20;
  const size = opts.size ?? 512;
  const cacheDir = mkdtempSync(join(tmpdir(), 'inkflow-bench-txt2img-'));
  try {
    const unetConfig = parseUNetConfig({ cross_attention_dim: 768, attention_head_dim: 8, sample_size: 64 });
    const vaeConfig = parseVaeConfig({ block_out_channels: [128, 256, 512, 512], layers_per_block: 2, latent_channels: 4, sample_size: 512 });
    const textConfig = parseClipTextConfig({ hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, projection_dim: 768 });
    const parts: CheckpointParts = {
      path: '<random SD1.5>', format: 'diffusers', family: 'sd1', prediction: 'eps', predictionReason: 'bench',
      unetConfig, unetStore: randomWeights(buildUNetGraph(unetConfig, { batch: 1, height: 8, width: 8, seqLen: 77 }), { seed: 1 }),
      unetLayout: ldmLayout(unetConfig),
      vaeConfig, vaeStore: randomWeights(vaeDecodeGraph(vaeConfig, [1, 4, 8, 8]), { seed: 2 }),
      textConfig, textStore: randomWeights(clipTextGraph(textConfig, { batch: 1, seqLen: 77 }), { seed: 3 }),
      tokenizer: loadClipTokenizer(TOKENIZER_DIR), readers: [],
    };
    const ckpt = checkpointFromParts(parts, { cacheDir, residency: 'all' });
    const req = {
      prompt: 'a comic panel of a girl with a red scarf, ink lines, (flat colours:1.2)', negative: 'blurry, lowres',
      seed: 1234, width: size, height: size, cfg: 8, sampler: 'dpmpp_2m', scheduler: 'karras',
    };
    try {
      const cold = (await generate(ckpt, { ...req, steps: 1 })).timings;
      print('cold (compile + 1 step)', cold, 1);
      let last = performance.now();
      const warm = (await generate(ckpt, { ...req, steps }, {
        onProgress: (p) => {
          if (p.stage !== 'sample') return;
          const now = performance.now();
          process.stderr.write(`  step ${p.step}/${p.total} ${((now - last) / 1000).toFixed(2)} s\n`);
          last = now;
        },
      })).timings;
      print(`warm (${steps} steps, CFG batch 2)`, warm, steps);
      if (process.env.INKFLOW_BENCH_TXT2IMG_FAST === '1') {
        const ref = await generate(ckpt, { ...req, steps });
        const modes: { name: string; precision?: 'int8'; cacheSteps?: number }[] = [{ name: 'cached/3', cacheSteps: 3 }, { name: 'int8', precision: 'int8' }, { name: 'int8+cached/3', precision: 'int8', cacheSteps: 3 }];
        for (const m of modes) {
          const c = m.precision ? checkpointFromParts(parts, { cacheDir, residency: 'all', precision: m.precision }) : ckpt;
          try {
            await generate(c, { ...req, steps: 1, cacheSteps: undefined }); // compile (cold)
            if (m.cacheSteps) await generate(c, { ...req, steps: 3, cacheSteps: 2 }); // compile the step-caching graphs
            const r = await generate(c, { ...req, steps, cacheSteps: m.cacheSteps });
            print(`${m.name} (${steps} steps)`, r.timings, steps);
            console.log(`${''.padEnd(34)} ${(ref.timings.totalMs / r.timings.totalMs).toFixed(2)}× fp32 total, ${(ref.timings.unetMs / r.timings.unetMs).toFixed(2)}× fp32 UNet; error vs fp32: image PSNR ${psnr(r.images[0], ref.images[0]).toFixed(1)} dB, latent ${(100 * relativeError(r.latent, ref.latent)).toFixed(2)} % rel.L2; ${r.timings.shallowUnetCalls ?? 0} shallow UNet calls`);
          } finally {
            if (c !== ckpt) await c.release();
          }
        }
      }
      const rssMB = process.memoryUsage().rss / 2 ** 20;
      console.log(`rss ${rssMB.toFixed(0)} MB`);
      return { cold, warm, steps, msPerStep: warm.unetMs / steps, rssMB };
    } finally {
      await ckpt.release();
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

function print(label: string, t: GenerateTimings, steps: number): void {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`${label.padEnd(34)} total ${s(t.totalMs)} | text ${s(t.textMs)} | UNet ${s(t.unetMs)} (${t.unetCalls} calls, ${s(t.unetMs / Math.max(1, steps))}/step) | sampler overhead ${s(t.sampleMs - t.unetMs)} | VAE decode ${s(t.decodeMs)}`);
}
