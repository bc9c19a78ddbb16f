// The training loop's random stream: xoshiro128** (Blackman & Vigna) whose whole state is four 32-bit
// words, so a checkpoint stores it in JSON and a resumed run draws exactly the numbers the killed run
// would have. Normals by Box–Muller on two fresh uniforms (no cached spare, nothing hidden in state).

export interface TrainRng {
  nextUint32(): number;
  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number;
  normal(): number;
  normals(n: number): Float32Array;
  /** An integer in [0, n). */
  below(n: number): number;
  state(): number[];
}

/** splitmix32 expansion of a seed into the four state words (never all zero). */
function seedState(seed: number): number[] {
  let x = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    out.push((z ^ (z >>> 16)) >>> 0);
  }
  if (!out.some((v) => v !== 0)) out[0] = 1;
  return out;
}

export function createTrainRng(seedOrState: number | readonly number[]): TrainRng {
  const s = Uint32Array.from(typeof seedOrState === 'number' ? seedState(seedOrState) : seedOrState);
  if (s.length !== 4) throw new Error('rng state must be 4 words');
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const nextUint32 = () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const uniform = () => nextUint32() / 4294967296;
  const normal = () => {
    const u = 1 - uniform(); // (0, 1]
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return {
    nextUint32, uniform, normal,
    normals: (n) => Float32Array.from({ length: n }, normal),
    below: (n) => Math.floor(uniform() * n),
    state: () => Array.from(s),
  };
}
