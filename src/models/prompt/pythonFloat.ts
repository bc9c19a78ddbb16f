// Python `float(str)` for prompt weights: ComfyUI parses `(x:1.3)` with float(), so "1e-1", " 1.3 ",
// "+2", ".5", "5." and "1_0" are weights while "abc" is not. Non-ASCII digits are not accepted.

const PY_FLOAT_RE = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_SPECIAL_RE = /^[+-]?(?:inf|infinity|nan)$/i;

/**
 * The number Python's float() would read, `undefined` if it would raise ValueError.
 * Infinite/NaN results (`inf`, `nan`, `1e999`) come back as Infinity/NaN; callers decide.
 */
export function parsePythonFloat(text: string): number | undefined {
  const s = text.trim();
  if (PY_FLOAT_RE.test(s)) return Number(s.replace(/_/g, ''));
  if (PY_SPECIAL_RE.test(s)) return s.toLowerCase().includes('nan') ? NaN : s.startsWith('-') ? -Infinity : Infinity;
  return undefined;
}
