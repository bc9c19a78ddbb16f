// Learning-rate schedules with diffusers' `get_scheduler` formulas (the multiplier of the base rate at
// optimiser step s, counted from 0):
//   constant               1
//   constant_with_warmup   min(1, s / warmup)
//   linear                 s < warmup ? s / warmup : max(0, (total − s) / (total − warmup))
//   cosine                 s < warmup ? s / warmup : max(0, ½(1 + cos(π·progress))), progress = (s − warmup)/(total − warmup)

export type ScheduleName = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';
export const SCHEDULES: readonly ScheduleName[] = ['constant', 'constant_with_warmup', 'linear', 'cosine'];

export interface ScheduleConfig {
  name: ScheduleName;
  lr: number;
  warmupSteps?: number;
  /** Total optimiser steps (linear and cosine decay to 0 at this step). */
  totalSteps: number;
}

export function learningRate(cfg: ScheduleConfig, step: number): number {
  const warmup = cfg.warmupSteps ?? 0;
  const warm = (s: number) => s / Math.max(1, warmup);
  let factor: number;
  switch (cfg.name) {
    case 'constant':
      factor = 1;
      break;
    case 'constant_with_warmup':
      factor = step < warmup ? warm(step) : 1;
      break;
    case 'linear':
      factor = step < warmup ? warm(step) : Math.max(0, (cfg.totalSteps - step) / Math.max(1, cfg.totalSteps - warmup));
      break;
    case 'cosine': {
      if (step < warmup) {
        factor = warm(step);
        break;
      }
      const progress = (step - warmup) / Math.max(1, cfg.totalSteps - warmup);
      factor = Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
      break;
    }
  }
  return cfg.lr * factor;
}
