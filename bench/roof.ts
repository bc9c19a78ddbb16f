// The machine's practical fp32 roof, measured in the same process as the bench it divides: the
// fastest of two dense fp32 kernels through onnxruntime (a 2048³ GEMM and a 3×3 conv 320→320 at 64²,
// which ORT runs on its blocked NCHWc kernel), best of repeated runs. A fixed constant misled when
// sessions moved between CPU kinds (the roof halved from one session's machine to the next). On an
// AVX-512 Zen 4 pair of cores the conv kernel reaches about the ~210 GFLOPS of a bare FMA loop in C,
// while the GEMM stops near 125, so the faster of the two stands for the machine's fp32 peak.
import { loadavg } from 'node:os';
import { createGraph, type Graph } from '../src/graph/graph.ts';
import * as nn from '../src/graph/nn.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { compile } from '../src/runtime/session.ts';

/** Timing runs of each kernel go on for at least this long, so a short burst of other load cannot set the roof. */
const MIN_MS = 1500;

export interface Roof {
  gflops: number;
  source: string;
}

async function bestGflops(g: Graph): Promise<number> {
  const model = await compile(g, randomWeights(g), { cacheDir: false });
  const input = g.values[g.inputs[0]];
  const feeds = { [input.name!]: Float32Array.from({ length: input.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37)) };
  await model.run(feeds);
  let best = Infinity;
  for (let runs = 0, start = performance.now(); runs < 5 || performance.now() - start < MIN_MS; runs++) {
    const t0 = performance.now();
    await model.run(feeds);
    best = Math.min(best, performance.now() - t0);
  }
  await model.release();
  return graphFlops(g) / best / 1e6;
}

async function measureRoof(): Promise<Roof> {
  const override = process.env.INKFLOW_ROOF_GFLOPS;
  if (override) return { gflops: Number(override), source: 'INKFLOW_ROOF_GFLOPS' };
  const gemm = createGraph();
  gemm.output('y', nn.linear(gemm.input('x', 'f32', [2048, 2048]), 'fc', 2048, 2048, false));
  const conv = createGraph();
  conv.output('y', nn.conv2d(conv.input('x', 'f32', [1, 320, 64, 64]), 'conv', 320, 320, 3));
  const [g, c] = [await bestGflops(gemm), await bestGflops(conv)];
  return {
    gflops: Math.round(Math.max(g, c)),
    source: `best ORT fp32 kernel measured now: GEMM 2048³ ${g.toFixed(0)}, conv3x3 320² at 64² ${c.toFixed(0)}; load ${loadavg()[0].toFixed(1)}`,
  };
}

let measured: Promise<Roof> | undefined;

/** The roof, measured once per process (or taken from INKFLOW_ROOF_GFLOPS); printed the first time. */
export function machineRoof(): Promise<Roof> {
  measured ??= measureRoof().then((r) => {
    console.log(`# roof: ${r.gflops} GFLOPS (${r.source})`);
    return r;
  });
  return measured;
}
