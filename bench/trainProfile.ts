// `npx tsx bench/trainProfile.ts <case> [out.json]`: one training step's per-op time from ORT's profiler,
// for finding what a training graph spends its time on (bench/train.ts reports the totals only).
// Cases are small proxies of the SD1.5 LoRA step so they run in seconds and under 3 GB:
//   sd15-top: SD1.5's first down/last up level (320 ch, attention at 64²) at 512², LoRA r16 (3.4 GB)
//   sd15-top-narrow: the same with the second level 320 wide too (under 3 GB)
//   attn-64: one SD1.5 64² self-attention (4096 tokens, 320 wide, 8 heads), q/k/v trained: the attention backward alone
//   sd15-256: the whole SD1.5 UNet at 256², LoRA r16, f16 base weights (needs the heavy lock)
//   sd15-512: bench/train.ts's SD1.5 LoRA step itself (7 GB, heavy lock)
// Env: INKFLOW_THREADS (intra-op threads; 1 is steadier on a loaded machine), INKFLOW_PROFILE_RUNS (timed
// runs, fastest reported), INKFLOW_ATTENTION_CHUNK (attention backward block size in scores).
// Prints time by op type (and how much of it ran on one thread only), the slowest nodes, and time by op and
// input shapes (which matmul form is slow).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createGraph, numel, type Graph } from '../src/graph/graph.ts';
import * as op from '../src/graph/ops.ts';
import * as nn from '../src/graph/nn.ts';
import { grad } from '../src/graph/autodiff.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { emitOnnx } from '../src/graph/emitOnnx.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { SD15_CONFIG } from '../src/models/unet/testConfigs.ts';
import { addLoraBranches } from '../src/train/lora.ts';
import { weightedMse } from '../src/train/diffusionObjective.ts';
import { formatCpuShare, startCpuShare } from './machineLoad.ts';

function unetWithLoss(config: Record<string, unknown>, px: number, seqLen: number): Graph {
  const g = buildUNetGraph(parseUNetConfig(config), { batch: 1, height: px / 8, width: px / 8, seqLen });
  const pred = g.tensor(g.outputs.find((o) => o.name === 'out_sample')!.id);
  g.output('loss', weightedMse(pred, g.input('target', 'f32', pred.shape), g.input('weights', 'f32', [1])));
  return g;
}

const SD15_TOP = { ...SD15_CONFIG, block_out_channels: [320, 640], layers_per_block: 1, down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] };
// One width only (320) keeps the proxy under 3 GB: runnable without the heavy lock.
const SD15_TOP_NARROW = { ...SD15_TOP, block_out_channels: [320, 320] };
const TINY_UNET = {
  _class_name: 'UNet2DConditionModel', block_out_channels: [32, 64, 64], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  attention_head_dim: 8, cross_attention_dim: 64, norm_num_groups: 8,
};
/** One attention with q, k, v as parameters and loss Σ out ⊙ target. */
function attentionWithLoss(tokens: number, width: number, heads: number): Graph {
  const g = createGraph('attention');
  const [q, k, v] = ['q', 'k', 'v'].map((n) => g.param(n, [1, tokens, width]));
  const out = nn.attention(q, k, v, heads);
  g.output('loss', op.reduceSum(op.mul(out, g.input('target', 'f32', out.shape)), [0, 1, 2], false));
  return g;
}

const CASES: Record<string, () => { g: Graph; px: number; full?: boolean }> = {
  'attn-64': () => ({ g: attentionWithLoss(4096, 320, 8), px: 512, full: true }),
  // bench/train.ts's tiny UNet, every parameter trained (f32).
  'tiny-full': () => ({ g: unetWithLoss(TINY_UNET, 256, 8), px: 256, full: true }),
  'sd15-top-narrow': () => ({ g: unetWithLoss(SD15_TOP_NARROW, 512, 77), px: 512 }),
  'sd15-top': () => ({ g: unetWithLoss(SD15_TOP, 512, 77), px: 512 }),
  'sd15-256': () => ({ g: unetWithLoss(SD15_CONFIG, 256, 77), px: 256 }),
  'sd15-512': () => ({ g: unetWithLoss(SD15_CONFIG, 512, 77), px: 512 }),
};

/** Per-node thread-pool counters in ORT's profile. */
interface ThreadStats { sub_threads?: Record<string, { num_run: number }> }

const which = process.argv[2] ?? 'sd15-top';
// INKFLOW_CAST_PER_USE=0 emits one Cast per f16 weight (the inference layout) for comparison.
const castPerUse = process.env.INKFLOW_CAST_PER_USE !== '0';
const { g: fwd, full } = CASES[which]();
const lora = full ? undefined : addLoraBranches(fwd, { rank: 16, alpha: 16 });
// INKFLOW_ATTENTION_CHUNK sets the attention backward's block size in scores (BackwardOptions.attentionChunkElements).
const gradOpts = process.env.INKFLOW_ATTENTION_CHUNK ? { attentionChunkElements: Number(process.env.INKFLOW_ATTENTION_CHUNK) } : {};
const train = lora ? grad(lora.graph, 'loss', lora.modules.flatMap((m) => [m.down, m.up]), gradOpts) : grad(fwd, 'loss', [...fwd.params.keys()], gradOpts);
const dir = mkdtempSync(join(tmpdir(), 'inkflow-trainprof-'));
try {
  const bytes = emitOnnx(train, randomWeights(train, { std: 0.02 }), { weightStorage: full ? 'f32' : 'f16', castPerUse, externalData: { dir, file: 'w.bin' } });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    executionProviders: ['cpu'], interOpNumThreads: 1, ...(process.env.INKFLOW_THREADS ? { intraOpNumThreads: Number(process.env.INKFLOW_THREADS) } : {}), graphOptimizationLevel: 'all', enableMemPattern: false, logSeverityLevel: 3,
    enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
    // As runtime/ortSession.ts keepDuplicateCasts.
    ...(castPerUse ? { extra: { 'optimization.disable_specified_optimizers': 'CommonSubexpressionElimination' } } : {}),
  });
  // Session creation holds the model's weights once more while ORT folds and reorders them: its own peak.
  const createdMB = process.resourceUsage().maxRSS / 1024;
  const feeds: Record<string, ort.Tensor> = {};
  for (const id of train.inputs) {
    const v = train.values[id];
    feeds[v.name!] = new ort.Tensor('float32', Float32Array.from({ length: numel(v.shape) }, (_, i) => (v.name === 'timestep' ? 500 : v.name === 'weights' ? 1 : 0.02 * Math.sin(i * 0.37 + v.name!.length))), [...v.shape]);
  }
  await session.run(feeds);
  // INKFLOW_PROFILE_RUNS timed runs (default 1): the fastest wall and CPU times, which a loaded machine disturbs least.
  let ms = Infinity;
  let cpuMs = Infinity;
  let sysMs = Infinity;
  const share = startCpuShare();
  for (let i = 0; i < Number(process.env.INKFLOW_PROFILE_RUNS ?? 1); i++) {
    const t = performance.now();
    const cpu0 = process.cpuUsage();
    await session.run(feeds);
    ms = Math.min(ms, performance.now() - t);
    const cpu = process.cpuUsage(cpu0);
    cpuMs = Math.min(cpuMs, (cpu.user + cpu.system) / 1000);
    // System time in a warm run is mostly first touches of fresh pages (the arena growing again).
    sysMs = Math.min(sysMs, cpu.system / 1000);
  }
  const cpuShare = share?.();
  session.endProfiling();
  const file = join(dir, readdirSync(dir).find((f) => f.startsWith("prof"))!);
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; output_type_shape?: unknown; thread_scheduling_stats?: ThreadStats } }[];
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const lastRunStart = (modelRuns.at(-1) as unknown as { ts: number }).ts;
  const byOp = new Map<string, { us: number; n: number; oneThreadUs: number }>();
  const nodes: { name: string; op: string; us: number }[] = [];
  let subRuns: number | undefined;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || (e as unknown as { ts: number }).ts < lastRunStart) continue;
    const opName = e.args?.op_name ?? '?';
    const s = byOp.get(opName) ?? { us: 0, n: 0, oneThreadUs: 0 };
    s.us += e.dur; s.n++;
    // ORT's counters of tasks each pool thread has run: a node during which none of them moved ran on the calling thread alone.
    const runs = Object.values(e.args?.thread_scheduling_stats?.sub_threads ?? {}).reduce((a, t) => a + t.num_run, 0);
    if (subRuns !== undefined && runs === subRuns) s.oneThreadUs += e.dur;
    subRuns = runs;
    byOp.set(opName, s);
    nodes.push({ name: e.name, op: opName, us: e.dur });
  }
  const total = [...byOp.values()].reduce((a, b) => a + b.us, 0);
  const gflop = graphFlops(train) / 1e9;
  console.log(`${which}: ${ms.toFixed(0)} ms/step, ${gflop.toFixed(1)} GFLOP, ${(gflop / (ms / 1000)).toFixed(0)} GFLOPS, ${cpuMs.toFixed(0)} CPU-ms (${sysMs.toFixed(0)} system), load ${loadavg()[0].toFixed(1)}, ${train.nodes.length} IR nodes, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (${createdMB.toFixed(0)} by session creation); kernels ${(total / 1000).toFixed(0)} ms`);
  console.log(`  timed runs: ${formatCpuShare(cpuShare)}`);
  const oneThread = [...byOp.values()].reduce((a, b) => a + b.oneThreadUs, 0);
  console.log(`  (one thread: kernel time during which no pool thread ran a task; ${(oneThread / 1000).toFixed(0)} ms in all)`);
  for (const [o, s] of [...byOp].sort((a, b) => b[1].us - a[1].us).slice(0, 25)) console.log(`  ${o.padEnd(28)} ${(s.us / 1000).toFixed(1).padStart(9)} ms  ${String(s.n).padStart(5)} nodes  ${((100 * s.us) / total).toFixed(1).padStart(4)}%  one thread ${(s.oneThreadUs / 1000).toFixed(1)} ms`);
  console.log('slowest nodes:');
  for (const n of nodes.sort((a, b) => b.us - a.us).slice(0, 25)) console.log(`  ${n.op.padEnd(20)} ${(n.us / 1000).toFixed(1).padStart(8)} ms  ${n.name}`);
  // The same time by IR op and input shapes (ORT names a node after the IR value it writes, v<id>, through its fusions).
  const writer = new Map(train.nodes.flatMap((n) => n.outputs.map((id) => [id, n] as const)));
  const byShape = new Map<string, { us: number; n: number }>();
  for (const n of nodes) {
    const id = /_v(\d+)/.exec(n.name)?.[1];
    const ir = id === undefined ? undefined : writer.get(Number(id));
    const key = ir ? `${n.op} ← ${ir.op} ${ir.inputs.map((i) => `[${train.values[i].shape.join(',')}]`).join(' ')}` : n.name;
    const s = byShape.get(key) ?? { us: 0, n: 0 };
    s.us += n.us; s.n++;
    byShape.set(key, s);
  }
  console.log('by op and input shapes:');
  for (const [k, s] of [...byShape].sort((a, b) => b[1].us - a[1].us).slice(0, 40)) console.log(`  ${(s.us / 1000).toFixed(1).padStart(9)} ms  ${String(s.n).padStart(4)}×  ${((100 * s.us) / total).toFixed(1).padStart(5)}%  ${k}`);
  if (process.argv[3]) writeFileSync(process.argv[3], JSON.stringify(nodes));
  await session.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
