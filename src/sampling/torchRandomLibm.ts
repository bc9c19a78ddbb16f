// Correctly rounded double log / sin / cos, so float64 torch.randn matches glibc bit for bit.
// V8's Math.cos/sin/log (fdlibm ports) are accurate to < 1 ulp but not always correctly rounded,
// while glibc's are; torch's float64 Box–Muller calls glibc. We evaluate in double-double
// (~104 bits) and round once, which equals the correctly rounded result except when the true value
// lies within ~2^-100 relative of a rounding midpoint (never met in practice).

type DD = [hi: number, lo: number];

const SPLITTER = 134217729; // 2^27 + 1, Veltkamp split for exact products

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, (a - (s - bb)) + (b - bb)];
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ((ah * bh - p) + ah * bl + al * bh) + al * bl];
}

function ddAdd(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  const [s2, e2] = quickTwoSum(s, e + t);
  return quickTwoSum(s2, e2 + f);
}

function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function ddMulNum(a: DD, b: number): DD {
  const [p, e] = twoProd(a[0], b);
  return quickTwoSum(p, e + a[1] * b);
}

function ddDiv(a: DD, b: DD): DD {
  const q1 = a[0] / b[0];
  let r = ddAdd(a, ddMulNum(b, -q1));
  const q2 = r[0] / b[0];
  r = ddAdd(r, ddMulNum(b, -q2));
  const q3 = r[0] / b[0];
  return ddAdd(quickTwoSum(q1, q2), [q3, 0]);
}

const PIO2: readonly number[] = [1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33];
const LN2: DD = [0.6931471805599453, 2.3190468138462996e-17];

// 1/n! for the Taylor series, as double-doubles (exact rationals rounded to ~106 bits).
const INV_FACT: DD[] = [[1, 0]];
for (let n = 1; n <= 30; n++) INV_FACT.push(ddDiv(INV_FACT[n - 1], [n, 0]));

/** sin(r), cos(r) for |r| ≤ π/4 in double-double by Taylor series. */
function sinCosReduced(r: DD): [DD, DD] {
  const r2 = ddMul(r, r);
  let sin: DD = [0, 0];
  let cos: DD = [0, 0];
  // Horner from the highest term: sin = r·Σ (−1)^k r^{2k}/(2k+1)!, cos = Σ (−1)^k r^{2k}/(2k)!
  for (let k = 13; k >= 0; k--) {
    const sign = k % 2 === 0 ? 1 : -1;
    sin = ddAdd(ddMul(sin, r2), ddMulNum(INV_FACT[2 * k + 1], sign));
    cos = ddAdd(ddMul(cos, r2), ddMulNum(INV_FACT[2 * k], sign));
  }
  return [ddMul(sin, r), cos];
}

function sinCosDD(x: number): [DD, DD] {
  const k = Math.round(x / PIO2[0]);
  let r: DD = [x, 0];
  for (const p of PIO2) r = ddAdd(r, twoProd(-k, p));
  const [s, c] = sinCosReduced(r);
  const neg = (a: DD): DD => [-a[0], -a[1]];
  switch (((k % 4) + 4) % 4) {
    case 0: return [s, c];
    case 1: return [c, neg(s)];
    case 2: return [neg(s), neg(c)];
    default: return [neg(c), s];
  }
}

function roundDD(a: DD): number {
  return a[0] + a[1];
}

/** Correctly rounded cos(x) for moderate |x| (the reduction is exact enough for |x| < 2^20). */
export function cosCR(x: number): number {
  if (!Number.isFinite(x) || Math.abs(x) > 2 ** 20) return Math.cos(x);
  return roundDD(sinCosDD(x)[1]);
}

/** Correctly rounded sin(x) for moderate |x|. */
export function sinCR(x: number): number {
  if (!Number.isFinite(x) || Math.abs(x) > 2 ** 20) return Math.sin(x);
  if (x === 0) return x;
  return roundDD(sinCosDD(x)[0]);
}

// 1/(2k+1) for the atanh series; |s| ≤ 0.172 so 25 terms reach 2^-120.
const INV_ODD: DD[] = Array.from({ length: 25 }, (_, k) => ddDiv([1, 0], [2 * k + 1, 0]));

/** Correctly rounded natural log for positive finite normal x: log x = e·ln2 + 2·atanh((m−1)/(m+1)). */
export function logCR(x: number): number {
  if (!(x > 0) || !Number.isFinite(x) || x < 2.2250738585072014e-308) return Math.log(x);
  let e = Math.floor(Math.log2(x));
  let m = x / 2 ** e;
  // Math.log2 may be off by one near powers of two; normalise m into [1, 2) exactly.
  while (m >= 2) { m /= 2; e += 1; }
  while (m < 1) { m *= 2; e -= 1; }
  if (m > Math.SQRT2) { m /= 2; e += 1; }
  // m − 1 and m + 1 are exact for m in [√½, √2] (Sterbenz / small exponent range).
  const s = ddDiv(twoSum(m, -1), twoSum(m, 1));
  const s2 = ddMul(s, s);
  let sum: DD = [0, 0];
  for (let k = INV_ODD.length - 1; k >= 0; k--) sum = ddAdd(ddMul(sum, s2), INV_ODD[k]);
  const atanh2 = ddMulNum(ddMul(sum, s), 2);
  return roundDD(ddAdd(ddMulNum(LN2, e), atanh2));
}
