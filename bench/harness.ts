// Benchmark harness: compile a graph with random weights, warm up, time repeated runs, and print one
// line per case with ms, effective GFLOPS (graph FLOPs / time) and the fraction of the machine roof.
import type { Graph } from '../src/graph/graph.ts';
import { graphFlops } from '../src/graph/flops.ts';
import { randomWeights } from '../src/graph/randomWeights.ts';
import { compile, type CompileOptions } from '../src/runtime/session.ts';
import { machineRoof } from './roof.ts';

export interface BenchResult {
  name: string;
  ms: number;
  gflops: number;
  rssMB: number;
}

/** `opts.compile`: how to compile (weight storage, castPerUse for training graphs); no compile cache either way. */
export async function benchGraph(name: string, g: Graph, opts: { runs?: number; flops?: number; compile?: CompileOptions } = {}): Promise<BenchResult> {
  const model = await compile(g, randomWeights(g), { ...opts.compile, cacheDir: false });
  const feeds: Record<string, Float32Array> = {};
  for (const id of g.inputs) {
    const v = g.values[id];
    const n = v.shape.reduce((a, b) => a * b, 1);
    feeds[v.name!] = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
  }
  await model.run(feeds);
  const runs = opts.runs ?? 5;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await model.run(feeds);
    times.push(performance.now() - t0);
  }
  await model.release();
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  const flops = opts.flops ?? graphFlops(g);
  const res = { name, ms, gflops: flops / ms / 1e6, rssMB: process.memoryUsage().rss / 2 ** 20 };
  await printResult(res);
  return res;
}

export async function printResult(r: BenchResult): Promise<void> {
  const roof = (await machineRoof()).gflops;
  const pct = ((100 * r.gflops) / roof).toFixed(0);
  console.log(`${r.name.padEnd(28)} ${r.ms.toFixed(1).padStart(9)} ms  ${r.gflops.toFixed(0).padStart(5)} GFLOPS  (${pct}% of ${roof} roof)  rss ${r.rssMB.toFixed(0)} MB`);
}
