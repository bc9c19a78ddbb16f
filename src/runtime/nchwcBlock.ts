// ORT's NCHWc block size on this machine (16 with AVX-512, 8 with AVX2), asked of ORT itself: the emitter
// reorders conv filters for it (graph/nchwcLayout.ts), and a filter blocked for the wrong size computes garbage,
// so it is never guessed from CPU flags. ReorderInput pads channels up to the block: a 4-channel input comes
// back with `block` channels. Where ORT has no NCHWc kernels (non-x86 builds) the probe fails and convs are
// emitted plain.
import * as ort from 'onnxruntime-node';
import { nchwcProbeModel } from '../graph/nchwcLayout.ts';
import { configureOrtEnvironment } from './ortEnvironment.ts';
import type { ExecutionProvider } from './ortSession.ts';

let probed: Promise<number | undefined> | undefined;

async function probe(): Promise<number | undefined> {
  configureOrtEnvironment();
  try {
    const session = await ort.InferenceSession.create(nchwcProbeModel(), { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
    try {
      const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
      const block = Number(out.y.dims[1]);
      return block > 4 && (block & (block - 1)) === 0 ? block : undefined;
    } finally {
      await session.release();
    }
  } catch {
    return undefined;
  }
}

/** The block size to emit NCHWc convs for, or undefined to emit plain convs (no NCHWc kernels, or a GPU provider). */
export async function nchwcBlockSize(provider: ExecutionProvider = 'cpu'): Promise<number | undefined> {
  if (provider !== 'cpu') return undefined;
  probed ??= probe();
  return probed;
}
