// `npx tsx bench/unetProfile.ts [fp32|int8] [out.json]`: one SD1.5 UNet forward at 512² b1 (fan-in random
// weights, as bench/int8Unet.ts) under ORT's profiler, emitted exactly as compile() emits it (NCHWc convs when
// ORT has them): kernel time per op type and per op type + output shape. Running it with INKFLOW_THREADS=1 and
// =2 shows which ops gain nothing from the second core (single-threaded kernels). INKFLOW_NCHWC=0 emits plain
// convs (ORT's own NCHWc transformer then blocks them). Heavy (≈4 GB, ~1 min): run under the heavy lock.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { graphFlops, nodeFlops } from '../src/graph/flops.ts';
import { emitOnnx, fuseSet } from '../src/graph/emitOnnx.ts';
import { lowerGraph } from '../src/graph/fused.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { SD15_CONFIG } from '../src/models/unet/testConfigs.ts';
import { nchwcBlockSize } from '../src/runtime/nchwcBlock.ts';
import { fanInWeights, gaussian } from './fanInWeights.ts';
import { formatCpuShare, startCpuShare, type CpuShare } from './machineLoad.ts';
import { kernelMicros, lastRunKernels, opName, printProfile, type ProfileEvent } from './ortProfile.ts';

/** Kernels that do multiply-adds (fp32, NCHWc, fused and int8 forms). */
const COMPUTE_OPS = new Set(['Conv', 'FusedConv', 'Gemm', 'MatMul', 'FusedMatMul', 'MultiHeadAttention', 'Attention', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul']);

const precision = process.argv[2] === 'int8' ? 'int8' : 'fp32';
const threads = Number(process.env.INKFLOW_THREADS ?? availableParallelism());
const g = buildUNetGraph(parseUNetConfig(SD15_CONFIG), { batch: 1, height: 64, width: 64, seqLen: 77 });
const nchwcBlock = process.env.INKFLOW_NCHWC === '0' ? undefined : await nchwcBlockSize();
const dir = mkdtempSync(join(tmpdir(), 'inkflow-unetprof-'));
try {
  writeFileSync(join(dir, 'model.onnx'), emitOnnx(g, fanInWeights(g), { weightStorage: 'f32', precision, nchwcBlock, externalData: { dir, file: 'w.bin' } }));
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    enableMemPattern: false, logSeverityLevel: 3, enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
  });
  const feeds = {
    sample: new ort.Tensor('float32', gaussian(4 * 64 * 64, 3), [1, 4, 64, 64]),
    timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
    encoder_hidden_states: new ort.Tensor('float32', gaussian(77 * 768, 5), [1, 77, 768]),
  };
  await session.run(feeds); // warm-up
  let ms = Infinity;
  let cpuS = Infinity;
  let share: CpuShare | undefined;
  for (let i = 0; i < Number(process.env.INKFLOW_PROFILE_RUNS ?? 1); i++) {
    const t = performance.now();
    const c0 = process.cpuUsage();
    const shareSince = startCpuShare();
    await session.run(feeds);
    const c = process.cpuUsage(c0);
    if (performance.now() - t < ms) share = shareSince?.();
    ms = Math.min(ms, performance.now() - t);
    cpuS = Math.min(cpuS, (c.user + c.system) / 1e6);
  }
  session.endProfiling();
  const file = join(dir, readdirSync(dir).find((f) => f.startsWith('prof'))!);
  const { kernels } = lastRunKernels(file);
  // ORT names a node after the IR value it writes (v<id>), through its fusions and our int8 sites: the
  // kernel that does a node's multiply-adds is charged with its FLOPs.
  const emitted = lowerGraph(g, fuseSet('all')); // the ids the emitter names values by
  const writer = new Map(emitted.nodes.flatMap((n) => n.outputs.map((id) => [id, n] as const)));
  const flopsOf = (e: ProfileEvent) => {
    const id = /_v(\d+)/.exec(e.name)?.[1];
    let ir = id === undefined ? undefined : writer.get(Number(id));
    if (ir?.op === 'Add') ir = writer.get(ir.inputs[0]); // an int8 Linear that took its bias in is named after the Add
    return ir && COMPUTE_OPS.has(opName(e)) ? nodeFlops(emitted, ir) : 0;
  };
  const total = kernelMicros(kernels);
  const gflop = graphFlops(g) / 1e9;
  console.log(`SD1.5 UNet 512² b1 ${precision}, ${threads} threads, nchwc ${nchwcBlock ?? 'off'}: ${ms.toFixed(0)} ms, CPU ${cpuS.toFixed(2)} s (${formatCpuShare(share)}), ${(gflop / (ms / 1000)).toFixed(0)} GFLOPS; kernels ${(total / 1000).toFixed(0)} ms; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  printProfile(kernels, flopsOf, 25, process.argv[3]);
  await session.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
