// The optimisation settings every training command takes (LoRA, SDRO), declared once so their options
// and defaults stay alike.
import type { OptimizerName } from './optimizer.ts';
import type { ScheduleName } from './lrSchedule.ts';

export interface TrainingRunSettings {
  steps: number;
  gradAccumulation?: number;
  lr?: number;
  optimizer?: OptimizerName;
  schedule?: ScheduleName;
  warmupSteps?: number;
  clipGradNorm?: number;
  emaDecay?: number;
  minSnrGamma?: number;
  seed?: number;
  checkpointEvery?: number;
  threads?: number;
  cacheDir?: string | false;
}
