// Reading onnxruntime's profiler output (sessionOptions.enableProfiling): the JSON trace it writes on
// endProfiling, cut to the kernels of the last session.run, which benches time after a warm-up run.
import { readFileSync, writeFileSync } from 'node:fs';

export interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

/** Every event of the profile file, and the kernel-time events ("<node>_kernel_time") of its last run. */
export function lastRunKernels(file: string): { events: ProfileEvent[]; kernels: ProfileEvent[] } {
  const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[];
  const lastRunStart = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').at(-1)!.ts;
  return { events, kernels: events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= lastRunStart) };
}

export interface KernelTotal {
  us: number;
  n: number;
  /** FLOPs charged to these kernels (0 when the caller does not count them). */
  flops: number;
}

/** The kernels' time, count and FLOPs summed by `keyOf` (op type, op + shape, …). */
export function sumKernels(kernels: readonly ProfileEvent[], keyOf: (e: ProfileEvent) => string, flopsOf: (e: ProfileEvent) => number = () => 0): Map<string, KernelTotal> {
  const out = new Map<string, KernelTotal>();
  for (const e of kernels) {
    const k = keyOf(e);
    const s = out.get(k) ?? { us: 0, n: 0, flops: 0 };
    s.us += e.dur;
    s.n++;
    s.flops += flopsOf(e);
    out.set(k, s);
  }
  return out;
}

export const opName = (e: ProfileEvent): string => e.args?.op_name ?? '?';
export const opAndShape = (e: ProfileEvent): string => `${opName(e)} → ${Object.values(e.args?.output_type_shape?.[0] ?? {})[0]?.join('x') ?? '?'}`;

/** Prints the `top` largest rows: ms, count, share of `totalUs`, and GFLOPS where FLOPs were counted. */
export function printKernelTable(rows: Map<string, KernelTotal>, totalUs: number, top: number): void {
  for (const [k, s] of [...rows].sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
    const rate = s.flops ? `  ${(s.flops / 1e9).toFixed(0).padStart(4)} GFLOP ${(s.flops / s.us / 1e3).toFixed(0).padStart(4)} GFLOPS` : '';
    console.log(`  ${k.padEnd(56)} ${(s.us / 1000).toFixed(0).padStart(7)} ms  ${String(s.n).padStart(5)}×  ${((100 * s.us) / totalUs).toFixed(1).padStart(5)}%${rate}`);
  }
}

/** The two tables every profile prints (by op type, by op and output shape), and the kernels as JSON to `jsonOut`. */
export function printProfile(kernels: readonly ProfileEvent[], flopsOf: ((e: ProfileEvent) => number) | undefined, topOps: number, jsonOut?: string): void {
  const byOp = sumKernels(kernels, opName, flopsOf);
  const total = [...byOp.values()].reduce((a, b) => a + b.us, 0);
  printKernelTable(byOp, total, topOps);
  console.log('by op and output shape:');
  printKernelTable(sumKernels(kernels, opAndShape, flopsOf), total, 40);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(kernels));
}

/** Kernel time of the run, in µs. */
export const kernelMicros = (kernels: readonly ProfileEvent[]): number => kernels.reduce((a, e) => a + e.dur, 0);
