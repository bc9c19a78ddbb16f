// `npx tsx bench/sdxlBlocks.ts [case]`: SDXL UNet pieces at 1024² batch 1 (latent 128²), f32 against f16
// weight storage (what an fp16 checkpoint gets), run alternately in one process on one intra-op thread so
// that CPU ms (user + sys) compare variants even on a loaded machine. Cases: l1 (Transformer2D, 640 ch, 64²,
// 10 heads, 2 blocks), l2 (1280 ch, 32², 20 heads, 2 blocks), r0 (two ResNet blocks, 320 ch, 128²),
// r2 (two ResNet blocks, 1280 ch, 32²). Each case stays well under 1 GB. INKFLOW_BLOCK_ROUNDS sets the rounds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createGraph, numel, type Graph } from '../src/graph/graph.ts';
import { emitOnnx, type WeightStorage } from '../src/graph/emitOnnx.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { openSession } from '../src/runtime/ortSession.ts';
import { transformer2D } from '../src/models/unet/transformer2d.ts';
import { resnetBlock2D } from '../src/models/unet/resnetBlock.ts';

function transformerLevel(channels: number, size: number, heads: number): Graph {
  const g = createGraph();
  const x = g.input('x', 'f32', [1, channels, size, size]);
  const context = g.input('context', 'f32', [1, 77, 2048]);
  g.output('y', transformer2D(x, context, { heads, layers: 2, groups: 32, useLinearProjection: true, crossAttentionDim: 2048 }));
  return g;
}

function resnets(channels: number, size: number): Graph {
  const g = createGraph();
  let x = g.input('x', 'f32', [1, channels, size, size]);
  const temb = g.input('temb', 'f32', [1, 1280]);
  for (const i of [0, 1]) x = g.within(`resnet${i}`, () => resnetBlock2D(x, temb, { outChannels: channels, groups: 32, eps: 1e-5 }));
  g.output('y', x);
  return g;
}

const CASES: Record<string, () => Graph> = {
  l1: () => transformerLevel(640, 64, 10),
  l2: () => transformerLevel(1280, 32, 20),
  r0: () => resnets(320, 128),
  r2: () => resnets(1280, 32),
};

const name = process.argv[2] ?? 'r2';
if (!CASES[name]) throw new Error(`unknown case "${name}"; available: ${Object.keys(CASES).join(', ')}`);
const g = CASES[name]();
const weights = randomWeights(g);
const feeds = Object.fromEntries(g.inputs.map((id) => {
  const v = g.values[id];
  return [v.name!, new ort.Tensor('float32', Float32Array.from({ length: numel(v.shape) }, (_, i) => Math.sin(i * 0.37)), [...v.shape])];
}));
const variants: { storage: WeightStorage; session?: ort.InferenceSession; cpu: number[] }[] = [{ storage: 'f32', cpu: [] }, { storage: 'f16', cpu: [] }];
const dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxl-blocks-'));
try {
  for (const v of variants) {
    writeFileSync(join(dir, `${v.storage}.onnx`), emitOnnx(g, weights, { weightStorage: v.storage, externalData: { dir, file: `${v.storage}.bin` } }));
    v.session = await openSession(join(dir, `${v.storage}.onnx`), { threads: 1 });
  }
} finally {
  rmSync(dir, { recursive: true, force: true }); // ORT has read the external data by now
}
for (const v of variants) await v.session!.run(feeds); // warm-up
const rounds = Number(process.env.INKFLOW_BLOCK_ROUNDS ?? 4);
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const c0 = process.cpuUsage();
    await v.session!.run(feeds);
    const c = process.cpuUsage(c0);
    v.cpu.push((c.user + c.system) / 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`${name}: ${rounds} alternating rounds, one thread, load avg ${loadavg()[0].toFixed(1)}`);
for (const v of variants) console.log(`  ${v.storage} weights  cpu ${median(v.cpu).toFixed(0).padStart(6)} ms (median)`);
for (const v of variants) await v.session!.release();
