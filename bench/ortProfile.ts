// Reading onnxruntime's profiler output (sessionOptions.enableProfiling): the JSON trace it writes on
// endProfiling, cut to the kernels of the last session.run, which benches time after a warm-up run.
import { readFileSync } from 'node:fs';

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
