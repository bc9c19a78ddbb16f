// JSON.parse that keeps integers beyond 2^53 exact (as bigint): ComfyUI seeds go up to 2^64 − 1, and a
// workflow file read back must sample with the seed that is written in it.

const BIG = /^-?\d{16,}$/;
const MARK = '\u0000bigint:';

/** Parses JSON; integer literals that a double cannot hold exactly come back as bigint. */
export function parseJsonExact(text: string): unknown {
  let out = '';
  let i = 0;
  let changed = false;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      const lit = m ? m[0] : ch;
      if (BIG.test(lit) && !Number.isSafeInteger(Number(lit))) {
        out += JSON.stringify(MARK + lit);
        changed = true;
      } else out += lit;
      i += lit.length;
    } else {
      out += ch;
      i++;
    }
  }
  if (!changed) return JSON.parse(text);
  return JSON.parse(out, (_k, v) => (typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v));
}
