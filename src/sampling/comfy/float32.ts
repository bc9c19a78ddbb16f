// float32 scalar maths mirroring what torch does on 0-dim / 1-element float32 tensors on CPU:
// every operation is rounded to float32 (glibc's logf/expf/… are correctly rounded, which
// rounding the double result reproduces). ComfyUI keeps sigmas and latents in float32, and some of
// its quirks (timestep quantisation, UniPC's VP maths near sigma = 0.001) depend on that rounding.

export const f32 = Math.fround;
export const logF32 = (x: number): number => f32(Math.log(x));
export const expF32 = (x: number): number => f32(Math.exp(x));
export const expm1F32 = (x: number): number => f32(Math.expm1(x));
export const sqrtF32 = (x: number): number => f32(Math.sqrt(x));
export const powF32 = (x: number, y: number): number => f32(Math.pow(x, y));

/** torch.lerp(a, b, w) for float32 scalars (torch switches formula at |w| = 0.5). */
export function lerpF32(a: number, b: number, w: number): number {
  return Math.abs(w) < 0.5 ? f32(a + f32(w * f32(b - a))) : f32(b - f32(f32(b - a) * f32(1 - w)));
}

/** torch.linspace(start, end, n) in float32: start + step·i below halfway, end − step·(n−1−i) above. */
export function linspaceF32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 0) return out;
  const s = f32(start);
  const e = f32(end);
  if (n === 1) { out[0] = s; return out; }
  const step = f32(f32(e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (n - i - 1)));
  return out;
}

/** (x − denoised) / sigma: k-diffusion's `to_d`, elementwise in float32. */
export function toD(x: Float32Array, denoised: Float32Array, sigma: number): Float32Array {
  const d = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) d[i] = f32(x[i] - denoised[i]) / sigma;
  return d;
}

/** x + d·dt with the product rounded to float32 first, as torch evaluates `x + d * dt`. */
export function addScaled(x: Float32Array, d: Float32Array, dt: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + f32(d[i] * dt);
  return out;
}
