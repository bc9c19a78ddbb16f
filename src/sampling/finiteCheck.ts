// NaN or ±inf in a latent means broken numbers upstream (NaN weights, a tensor read with the wrong
// dtype, an overflowing prompt weight). Left alone they become an all-black PNG and "success"; checked
// here they stop the run at the first step they appear. One pass over a latent-sized array per model
// call: microseconds next to a UNet forward.

/** Thrown when a tensor holds NaN or ±inf. `where` says which tensor, e.g. "denoised latent at step 3/20". */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
  constructor(
    readonly where: string,
    readonly count: number,
    readonly total: number,
    readonly firstIndex: number,
    readonly firstValue: number,
    /** Sampling step (1-based) when known. */
    readonly step?: number,
  ) {
    super(`${where} has ${count} non-finite value${count === 1 ? '' : 's'} of ${total} (first ${firstValue} at index ${firstIndex})`);
  }
}

/** Index of the first NaN or ±inf, or −1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v − v is 0 for every finite v and NaN for NaN and ±inf: one subtraction, one compare.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Number of NaN / ±inf values. */
export function countNonFinite(data: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) n++;
  return n;
}

/** Largest |v| over the finite values (0 for an empty array): tells overflow (huge) from bad weights. */
export function maxAbsFinite(data: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]);
    if (a > m && a !== Infinity) m = a;
  }
  return m;
}

/** Throws NonFiniteError when `data` holds NaN or ±inf. */
export function assertFinite(data: ArrayLike<number>, where: string, step?: number): void {
  const i = firstNonFinite(data);
  if (i >= 0) throw new NonFiniteError(where, countNonFinite(data), data.length, i, data[i], step);
}
