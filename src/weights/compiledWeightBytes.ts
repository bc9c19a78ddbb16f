// Bytes a file's tensors take once compiled (memory estimates, from the header alone): fp16 tensors stay fp16
// in the compiled model (EmitOptions.weightStorage 'auto') where storedAsF16 says so, everything else runs as f32.
import { storedAsF16 } from '../graph/emitOnnx.ts';
import type { SafetensorsReader } from './safetensors.ts';

/** The compiled size of the tensors whose names start with `prefix` (all when empty). */
export function compiledWeightBytes(reader: Pick<SafetensorsReader, 'tensors'>, prefix = ''): number {
  let total = 0;
  for (const [name, t] of reader.tensors) if (name.startsWith(prefix)) total += t.shape.reduce((a, d) => a * d, 1) * (t.dtype === 'F16' && storedAsF16(t.shape) ? 2 : 4);
  return total;
}
