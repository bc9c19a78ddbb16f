// Turns "NaN in a tensor" into an error a user can act on: which stage (text conditioning, a sampling
// step, the decoded image), which model file, and — found by reading that file's tensors, only now that
// something is already wrong — which weight tensors hold NaN / inf. When no weight does, the numbers
// overflowed on the way (a huge prompt weight, a tensor whose dtype label lies and decodes to huge values).
import type { CheckpointComponent, ComponentFile } from '../models/checkpoint/loadCheckpoint.ts';
import { assertFinite, NonFiniteError } from '../sampling/finiteCheck.ts';
import { findNonFiniteTensors } from '../weights/nonFiniteWeights.ts';

export type NumericStage = 'text conditioning' | 'sampling' | 'VAE decode' | 'VAE encode';

const COMPONENT_NAME: Record<CheckpointComponent, string> = { unet: 'UNet', vae: 'VAE', text: 'text encoder' };

/** A stage produced NaN / inf. The message names the stage, the model file(s) and the bad tensors. */
export class NonFiniteStageError extends Error {
  override name = 'NonFiniteStageError';
  constructor(
    readonly stage: NumericStage,
    readonly files: readonly string[],
    readonly tensors: readonly { file: string; name: string; count: number; total: number }[],
    message: string,
  ) {
    super(message);
  }
}

/** Builds the stage error for `cause`, reading `files` to find the tensors to blame. */
export function nonFiniteStageError(stage: NumericStage, cause: NonFiniteError, component: CheckpointComponent, files: readonly ComponentFile[]): NonFiniteStageError {
  const tensors = files.flatMap((f) => findNonFiniteTensors(f.reader, { prefix: f.prefix, limit: 3 }).map((t) => ({ file: f.reader.path, ...t })));
  const paths = [...new Set(files.map((f) => f.reader.path))];
  const model = `${COMPONENT_NAME[component]}${paths.length ? ` (${paths.join(', ')})` : ''}`;
  const why = tensors.length
    ? `weights hold NaN/inf: ${tensors.map((t) => `${t.name} (${t.count} of ${t.total}) in ${t.file}`).join('; ')}`
    : `no weight tensor holds NaN/inf, so values overflowed on the way (an extreme prompt weight, or a tensor whose dtype label does not match its bytes)`;
  const fix = tensors.length ? 'replace or re-export the model file' : 'check the prompt weights and the model file';
  return new NonFiniteStageError(stage, paths, tensors, `${stage} produced non-finite numbers: ${cause.message} — ${model}: ${why} (${fix})`);
}

/** Checks `data` and throws the stage error when it holds NaN / inf. */
export function assertFiniteStage(stage: NumericStage, data: ArrayLike<number>, where: string, component: CheckpointComponent, files: () => readonly ComponentFile[]): void {
  try {
    assertFinite(data, where);
  } catch (e) {
    throw nonFiniteStageError(stage, e as NonFiniteError, component, files());
  }
}

/** Runs `f`; a NonFiniteError from inside (a sampler step) becomes the stage error. */
export async function withFiniteStage<T>(stage: NumericStage, component: CheckpointComponent, files: () => readonly ComponentFile[], f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof NonFiniteError) throw nonFiniteStageError(stage, e, component, files());
    throw e;
  }
}
