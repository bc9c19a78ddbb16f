// Reads a diffusers scheduler_config.json. Python's json module writes the non-standard tokens NaN, Infinity and
// -Infinity (DPMSolverMultistepScheduler saves `"lambda_min_clipped": -Infinity`), which JSON.parse rejects.
import type { z } from 'zod';


/** JSON.parse that also accepts Python's bare NaN / Infinity / -Infinity tokens (outside strings). */
export function parsePythonJson(text: string): unknown {
  const tokens: Record<string, number> = {};
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (m) {
      const key = `__pyjson_${Object.keys(tokens).length}__`;
      tokens[key] = m[1] === 'NaN' ? NaN : m[1].startsWith('-') ? -Infinity : Infinity;
      out += `"${key}"`;
      i += m[1].length;
      continue;
    }
    out += c;
    i++;
  }
  return JSON.parse(out, (_k, v) => (typeof v === 'string' && v in tokens ? tokens[v] : v));
}

/**
 * Validates a diffusers config for one scheduler class the way `X.from_config(config)` reads it: the keys X
 * knows are checked and defaulted, every other key (clip_sample, variance_type, _class_name, …) is ignored.
 */
export function parseSchedulerConfig<S extends z.ZodType>(schema: S, className: string, raw: unknown): z.output<S> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(`${className}: config must be an object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  const res = schema.safeParse(raw);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${className}: invalid config: ${issues}`);
  }
  return res.data;
}
