// diffusers-style schedulers by name: `createScheduler("UniPCMultistepScheduler", config)` and
// `fromConfig(className, otherConfig)`, the equivalent of diffusers' `X.from_config(other.config)`.
import { parsePythonJson } from './configJson.ts';
import { createDDIM, DDIM_CLASS_NAME } from './ddim.ts';
import { createDPMSolverMultistep, DPM_SOLVER_MULTISTEP_CLASS_NAME } from './dpmSolverMultistep.ts';
import { createEulerAncestral, EULER_ANCESTRAL_CLASS_NAME } from './eulerAncestral.ts';
import { createEuler, EULER_CLASS_NAME } from './euler.ts';
import type { DiffusersScheduler } from './types.ts';
import { createUniPC, UNIPC_CLASS_NAME } from './unipc.ts';

export type { DiffusersScheduler, StepOptions, StepResult } from './types.ts';
export { createDDIM } from './ddim.ts';
export { createDPMSolverMultistep } from './dpmSolverMultistep.ts';
export { createEulerAncestral } from './eulerAncestral.ts';
export { createEuler } from './euler.ts';
export { createUniPC } from './unipc.ts';
export { parsePythonJson } from './configJson.ts';

type Factory = (config: Record<string, unknown>) => DiffusersScheduler;

const FACTORIES: Record<string, Factory> = {
  [UNIPC_CLASS_NAME]: createUniPC,
  [DPM_SOLVER_MULTISTEP_CLASS_NAME]: createDPMSolverMultistep,
  [EULER_ANCESTRAL_CLASS_NAME]: createEulerAncestral,
  [EULER_CLASS_NAME]: createEuler,
  [DDIM_CLASS_NAME]: createDDIM,
};

/** Short names accepted besides the diffusers class names (ComfyUI-style where one exists). */
const ALIASES: Record<string, string> = {
  unipc: UNIPC_CLASS_NAME,
  uni_pc: UNIPC_CLASS_NAME,
  dpmpp_2m: DPM_SOLVER_MULTISTEP_CLASS_NAME,
  dpm_solver_multistep: DPM_SOLVER_MULTISTEP_CLASS_NAME,
  euler: EULER_CLASS_NAME,
  euler_ancestral: EULER_ANCESTRAL_CLASS_NAME,
  euler_a: EULER_ANCESTRAL_CLASS_NAME,
  ddim: DDIM_CLASS_NAME,
};

/** The diffusers class names this module implements. */
export const schedulerClassNames: readonly string[] = Object.keys(FACTORIES);

/** Resolves a diffusers `_class_name` or a short alias to the class name, or throws listing what exists. */
export function resolveSchedulerClass(name: string): string {
  if (name in FACTORIES) return name;
  const alias = ALIASES[name.toLowerCase()];
  if (alias) return alias;
  throw new Error(
    `unknown scheduler "${name}"; known: ${[...schedulerClassNames, ...Object.keys(ALIASES)].join(', ')}`,
  );
}

/** Builds the scheduler `name` (class name or alias) from a diffusers config object (unknown keys ignored). */
export function createScheduler(name: string, config: Record<string, unknown> = {}): DiffusersScheduler {
  return FACTORIES[resolveSchedulerClass(name)](config);
}

/**
 * `X.from_config(config, **overrides)`: builds class X from another scheduler's config. Keys X takes are read
 * (overrides win), the rest — `_class_name`, clip_sample, variance_type, … — are ignored, defaults fill the gaps.
 * This is how the SDRO pipeline turns SD2.1's DDPMScheduler config into a UniPC scheduler.
 */
export function fromConfig(
  name: string,
  config: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): DiffusersScheduler {
  return createScheduler(name, { ...config, ...overrides });
}

/**
 * Builds a scheduler from the text of a scheduler_config.json (Python's NaN/Infinity tokens allowed). With no
 * `name` the config's own `_class_name` picks the class.
 */
export function schedulerFromConfigJson(text: string, name?: string): DiffusersScheduler {
  const config = parsePythonJson(text);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error('scheduler config JSON must be an object');
  }
  const record = config as Record<string, unknown>;
  const cls = name ?? record._class_name;
  if (typeof cls !== 'string') throw new Error('scheduler config has no _class_name; pass the scheduler name');
  return fromConfig(cls, record);
}
