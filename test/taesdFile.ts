// A TAESD decoder file with random weights under the published key names ("1.weight", "3.conv.0.weight", …),
// for tests and benches: no pretrained weights can be downloaded here.
import { taesdDecoderParams } from '../src/models/taesd/taesdDecoder.ts';
import { writeSafetensors } from '../src/weights/safetensors.ts';

/** Deterministic uniform weights; std keeps 64-wide conv stacks from blowing up or dying. */
export function randomTaesdTensors(seed = 1, latentChannels = 4): Map<string, { shape: readonly number[]; data: Float32Array }> {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, shape] of taesdDecoderParams(latentChannels)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length === 4 ? shape[1] * shape[2] * shape[3] : 1;
    const scale = shape.length === 4 ? 2 * Math.sqrt(3 / fanIn) : 0.2;
    out.set(name, { shape, data: Float32Array.from({ length: n }, () => next() * scale) });
  }
  return out;
}

export async function writeRandomTaesdDecoder(path: string, seed = 1, latentChannels = 4): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const tensors = randomTaesdTensors(seed, latentChannels);
  await writeSafetensors(path, [...tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })));
  return tensors;
}
