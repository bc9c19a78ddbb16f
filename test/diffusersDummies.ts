// The deterministic sample and dummy model of diffusers' own scheduler tests (tests/schedulers/test_schedulers.py),
// shared by the harness test (src/sampling/diffusers/harness.test.ts) and the scheduler golden handler.
const f32 = Math.fround;

/** dummy_sample_deter: (arange(768).reshape(3,8,8,4) / 768).permute(3,0,1,2), float32 [4,3,8,8]. */
export function dummySample(): Float32Array {
  const out = new Float32Array(768);
  for (let b = 0; b < 4; b++)
    for (let c = 0; c < 3; c++)
      for (let h = 0; h < 8; h++)
        for (let w = 0; w < 8; w++) out[((b * 3 + c) * 8 + h) * 8 + w] = f32((((c * 8 + h) * 8 + w) * 4 + b) / 768);
  return out;
}

/** dummy_model: sample · t/(t + 1), t cast to float32. */
export function dummyModel(x: Float32Array, t: number): Float32Array {
  const tf = f32(t);
  const d = f32(tf + 1);
  return x.map((v) => f32(f32(v * tf) / d));
}
