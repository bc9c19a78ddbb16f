// Training checkpoints: everything an exact resume needs, in one folder per optimiser step —
// params.safetensors (trained values), optimizer.safetensors (per-parameter slots), ema.safetensors
// (when EMA is on) and state.json (step counts and the rng state). The folder is written under a
// temporary name and renamed, so a kill mid-write leaves no checkpoint that looks complete.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import type { OptimizerState } from './optimizer.ts';
import type { EmaState } from './ema.ts';

export interface CheckpointState {
  /** Optimiser steps completed. */
  step: number;
  rng: number[];
  optimizerStep: number;
  emaUpdates?: number;
}

export interface Checkpoint {
  state: CheckpointState;
  params: Record<string, Float32Array>;
  optimizer: OptimizerState;
  ema?: EmaState;
}

const DIR_PATTERN = /^step-(\d{8})$/;
export const checkpointDirName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

function tensorsOf(values: Readonly<Record<string, Float32Array>>, shapes: Readonly<Record<string, readonly number[]>>) {
  return Object.entries(values).map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [...(shapes[name] ?? [data.length])], data }));
}

function readAll(path: string): Record<string, Float32Array> {
  const r = openSafetensors(path);
  try {
    return Object.fromEntries([...r.tensors.keys()].map((k) => [k, r.readF32(k)]));
  } finally {
    r.close();
  }
}

/** Writes checkpoint `c` under `<root>/step-NNNNNNNN/`; `shapes` gives tensor shapes for the files. */
export async function saveCheckpoint(root: string, c: Checkpoint, shapes: Readonly<Record<string, readonly number[]>>): Promise<string> {
  mkdirSync(root, { recursive: true });
  const final = join(root, checkpointDirName(c.state.step));
  const tmp = `${final}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await writeSafetensors(join(tmp, 'params.safetensors'), tensorsOf(c.params, shapes));
  const slots: Record<string, Float32Array> = {};
  const slotShapes: Record<string, readonly number[]> = {};
  for (const [name, arrays] of Object.entries(c.optimizer.slots)) {
    arrays.forEach((a, i) => {
      slots[`${name}::${i}`] = a;
      slotShapes[`${name}::${i}`] = shapes[name] ?? [a.length];
    });
  }
  await writeSafetensors(join(tmp, 'optimizer.safetensors'), tensorsOf(slots, slotShapes));
  if (c.ema) await writeSafetensors(join(tmp, 'ema.safetensors'), tensorsOf(c.ema.shadow, shapes));
  writeFileSync(join(tmp, 'state.json'), JSON.stringify({ ...c.state, optimizerStep: c.optimizer.step, emaUpdates: c.ema?.updates }, null, 2));
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

/** Steps of the complete checkpoints under `root`, ascending. */
export function listCheckpoints(root: string): number[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => DIR_PATTERN.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(root, m[0], 'state.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export function loadCheckpoint(root: string, step: number): Checkpoint {
  const dir = join(root, checkpointDirName(step));
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  const params = readAll(join(dir, 'params.safetensors'));
  const flat = readAll(join(dir, 'optimizer.safetensors'));
  const slots: Record<string, Float32Array[]> = {};
  for (const [key, a] of Object.entries(flat)) {
    const at = key.lastIndexOf('::');
    const name = key.slice(0, at);
    (slots[name] ??= [])[Number(key.slice(at + 2))] = a;
  }
  const emaPath = join(dir, 'ema.safetensors');
  const ema = existsSync(emaPath) ? { updates: state.emaUpdates ?? 0, shadow: readAll(emaPath) } : undefined;
  return { state, params, optimizer: { step: state.optimizerStep, slots }, ema };
}

/** Removes all but the newest `keep` checkpoints. */
export function pruneCheckpoints(root: string, keep: number): void {
  const steps = listCheckpoints(root);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(root, checkpointDirName(s)), { recursive: true, force: true });
}
