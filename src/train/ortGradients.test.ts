// ORT runs the emitted training graphs: on every gradient case (test/gradientCases.ts, which together
// cover every primitive and fused op) its loss and gradients must match the reference interpreter's.
import { describe, it, expect } from 'vitest';
import { interpret } from '../graph/interpret.ts';
import { gradOutputName, LOSS_OUTPUT } from '../graph/autodiff.ts';
import { memoryWeights } from '../graph/weights.ts';
import { compile } from '../runtime/session.ts';
import { GRADIENT_CASES, buildGradientCase } from '../../test/gradientCases.ts';

describe('ORT gradients match the interpreter', () => {
  for (const c of GRADIENT_CASES) {
    it(c.name, async () => {
      const b = buildGradientCase(c);
      const feeds = Object.fromEntries(Object.entries(b.values).map(([k, v]) => [k, Float32Array.from(v.data as ArrayLike<number>)]));
      const expected = interpret(b.train, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { shape: b.values[k].shape, data: v }])), memoryWeights({}));
      const model = await compile(b.train, memoryWeights({}), { cacheDir: false, threads: 1 });
      const got = await model.run(feeds);
      await model.release();
      const tolerance = c.viaF16 ? 2e-3 : 2e-5;
      for (const name of [LOSS_OUTPUT, ...b.wrt.map(gradOutputName)]) {
        const e = expected[name].data;
        const o = got[name].data as Float32Array;
        let err = 0;
        let scale = 0;
        for (let i = 0; i < e.length; i++) {
          err = Math.max(err, Math.abs(o[i] - e[i]));
          scale = Math.max(scale, Math.abs(e[i]));
        }
        expect(err / Math.max(1, scale), name).toBeLessThan(tolerance);
      }
    });
  }
});
