// `npx tsx bench/sdxlProfile.ts [batch] [out.json]`: one SDXL base UNet forward at 1024² (random weights,
// f16-stored, as bench/sdxl.ts) under ORT's profiler: kernel time per op type and per op type + output
// shape, so a slow site shows as a share of the whole. Shares are ratios and survive machine load, unlike
// wall times. Heavy (≈6 GB, ~1 min): run under `flock /tmp/inkflow-heavy.lock`.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { emitOnnx } from '../src/graph/emitOnnx.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { SDXL_BASE_UNET_CONFIG, sdxlBenchFeeds } from './sdxl.ts';
import { kernelMicros, lastRunKernels, printProfile } from './ortProfile.ts';

const batch = Number(process.argv[2] ?? 1);
const g = buildUNetGraph(parseUNetConfig(SDXL_BASE_UNET_CONFIG), { batch, height: 128, width: 128, seqLen: 77 });
const dir = mkdtempSync(join(tmpdir(), 'inkflow-sdxlprof-'));
try {
  writeFileSync(join(dir, 'model.onnx'), emitOnnx(g, randomWeights(g), { weightStorage: 'f16', externalData: { dir, file: 'w.bin' } }));
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    executionProviders: ['cpu'], intraOpNumThreads: availableParallelism(), interOpNumThreads: 1, graphOptimizationLevel: 'all',
    enableMemPattern: false, logSeverityLevel: 3, enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
  });
  const feeds = Object.fromEntries(Object.entries(sdxlBenchFeeds(g)).map(([name, data]) => [name, new ort.Tensor('float32', data, [...g.values[g.inputs.find((id) => g.values[id].name === name)!].shape])]));
  await session.run(feeds); // warm-up
  const t = performance.now();
  await session.run(feeds);
  const ms = performance.now() - t;
  session.endProfiling();
  const file = join(dir, readdirSync(dir).find((f) => f.startsWith('prof'))!);
  const { kernels } = lastRunKernels(file);
  const total = kernelMicros(kernels);
  const gflop = graphFlops(g) / 1e9;
  console.log(`SDXL UNet 1024² b${batch}: ${ms.toFixed(0)} ms, ${gflop.toFixed(0)} GFLOP, ${(gflop / (ms / 1000)).toFixed(0)} GFLOPS; kernels ${(total / 1000).toFixed(0)} ms; load avg ${loadavg()[0].toFixed(1)}`);
  printProfile(kernels, undefined, 20, process.argv[3]);
  await session.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
