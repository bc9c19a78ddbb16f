// LoRA merging (kohya, diffusers and PEFT file formats) into any WeightStore:
//   W' = W + strength · (alpha / rank) · (up · down), reshaped to W (conv LoRAs flatten to matrices).
// rank = down.shape[0]; a missing alpha means alpha/rank = 1 (ComfyUI comfy/lora.py). Merging
// happens lazily when a parameter is read, so only the touched tensors are ever copied.
import { createHash } from 'node:crypto';
import type { ParamData, WeightStore } from '../graph/weights.ts';
import type { SafetensorsReader } from './safetensors.ts';

export interface LoraFile {
  reader: SafetensorsReader;
  strength: number;
}

export interface LoraTarget {
  /** Parameter names of the model the LoRA applies to (our diffusers/HF names). */
  params: Iterable<string>;
  /** kohya module prefixes for this model, e.g. ['lora_unet'] or ['lora_te', 'lora_te1']. */
  kohyaPrefixes: readonly string[];
  /** diffusers/PEFT key prefixes, e.g. ['unet.', ''] or ['text_encoder.']. */
  diffusersPrefixes: readonly string[];
  /** Other names a parameter is known by in LoRA files (e.g. its LDM name). */
  aliases?: (param: string) => string[];
}

export interface LoraReport {
  /** Parameters that received at least one LoRA delta. */
  patched: string[];
  /** LoRA modules (per file) that matched no parameter of this target. */
  unmatched: string[];
}

interface LoraModule {
  down: string;
  up: string;
  alpha?: string;
}

const MODULE_PATTERNS: [RegExp, 'down' | 'up' | 'alpha'][] = [
  [/^(.*)\.lora_down\.weight$/, 'down'],
  [/^(.*)\.lora_up\.weight$/, 'up'],
  [/^(.*)\.alpha$/, 'alpha'],
  [/^(.*)\.lora\.down\.weight$/, 'down'],
  [/^(.*)\.lora\.up\.weight$/, 'up'],
  [/^(.*)\.lora_A(?:\.default)?\.weight$/, 'down'],
  [/^(.*)\.lora_B(?:\.default)?\.weight$/, 'up'],
  [/^(.*)_lora\.down\.weight$/, 'down'],
  [/^(.*)_lora\.up\.weight$/, 'up'],
];

/** Groups a LoRA file's tensors by module name (the name without the lora suffix). */
export function loraModules(reader: SafetensorsReader): Map<string, LoraModule> {
  const parts = new Map<string, Partial<LoraModule>>();
  for (const key of reader.tensors.keys()) {
    for (const [re, role] of MODULE_PATTERNS) {
      const m = re.exec(key);
      if (!m) continue;
      // attention-processor style: "...attn1.processor.to_q_lora.down.weight" → "...attn1.to_q"
      const name = m[1].replace('.processor.', '.');
      const entry = parts.get(name) ?? {};
      entry[role] = key;
      parts.set(name, entry);
      break;
    }
  }
  const out = new Map<string, LoraModule>();
  for (const [name, p] of parts) if (p.down && p.up) out.set(name, { down: p.down, up: p.up, alpha: p.alpha });
  return out;
}

/**
 * Throws unless the file holds at least one LoRA module (down + up pair in a known layout). A checkpoint,
 * an embedding or an unrelated file given as a LoRA would otherwise change nothing and say nothing.
 */
export function assertLoraFile(reader: SafetensorsReader): void {
  if (loraModules(reader).size > 0) return;
  const sample = [...reader.tensors.keys()].slice(0, 3).map((k) => JSON.stringify(k)).join(', ');
  throw new Error(`${reader.path} is not a LoRA — it has no LoRA weights (no lora_down/lora_up, lora.down/lora.up or lora_A/lora_B pairs among its ${reader.tensors.size} tensors${sample ? `, e.g. ${sample}` : ''}) (give a LoRA file; checkpoints go to --model, embeddings to --embeddings)`);
}

const kohyaName = (prefix: string, module: string) => `${prefix}_${module.replace(/\./g, '_')}`;

/** Applies LoRA files to `base` for one model; returns the patched store and what matched. */
export function applyLoras(base: WeightStore, loras: readonly LoraFile[], target: LoraTarget): { store: WeightStore; report: LoraReport } {
  // Every name a LoRA module could use for each weight parameter → that parameter.
  const lookup = new Map<string, string>();
  for (const param of target.params) {
    if (!param.endsWith('.weight')) continue;
    for (const name of [param, ...(target.aliases?.(param) ?? [])]) {
      const module = name.slice(0, -'.weight'.length);
      for (const p of target.kohyaPrefixes) lookup.set(kohyaName(p, module), param);
      for (const p of target.diffusersPrefixes) lookup.set(p + module, param);
    }
  }
  const deltas = new Map<string, { file: LoraFile; module: LoraModule }[]>();
  const unmatched: string[] = [];
  for (const file of loras) {
    for (const [name, module] of loraModules(file.reader)) {
      const param = lookup.get(name);
      if (!param) {
        unmatched.push(`${file.reader.path}: ${name}`);
        continue;
      }
      const list = deltas.get(param) ?? [];
      list.push({ file, module });
      deltas.set(param, list);
    }
  }
  const fp = createHash('sha256').update(base.fingerprint());
  for (const l of loras) fp.update(`${l.reader.path}:${l.strength}:${[...l.reader.tensors.values()].map((t) => `${t.name}@${t.byteOffset}`).join(',')}`);
  const fingerprint = fp.digest('hex');
  const store: WeightStore = {
    keys: () => base.keys(),
    fingerprint: () => fingerprint,
    get(name): ParamData | undefined {
      const p = base.get(name);
      const list = deltas.get(name);
      if (!p || !list) return p;
      if (p.dtype !== 'f32') throw new Error(`LoRA merge needs f32 weights; "${name}" is ${p.dtype}`);
      const w = new Float32Array(p.bytes.slice().buffer);
      for (const { file, module } of list) addDelta(w, p.shape, file, module, name);
      // A merged fp16 checkpoint stays an fp16-stored model: the delta is rounded like the base was.
      return { dtype: 'f32', shape: p.shape, bytes: new Uint8Array(w.buffer), sourceDType: p.sourceDType };
    },
  };
  return { store, report: { patched: [...deltas.keys()], unmatched } };
}

function addDelta(w: Float32Array, shape: readonly number[], file: LoraFile, m: LoraModule, name: string): void {
  const r = file.reader;
  const down = r.readF32(m.down);
  const up = r.readF32(m.up);
  const dShape = r.info(m.down).shape;
  const uShape = r.info(m.up).shape;
  const rank = dShape[0];
  const inner = down.length / rank; // in (·kh·kw)
  const out = uShape[0];
  if (uShape[1] !== rank || up.length !== out * rank) throw new Error(`LoRA ${r.path}: ${m.up} ${JSON.stringify(uShape)} does not fit rank ${rank}`);
  if (out * inner !== w.length || shape[0] !== out) {
    throw new Error(`LoRA ${r.path}: module for "${name}" gives ${out}×${inner}, weight is ${JSON.stringify(shape)}`);
  }
  const alpha = m.alpha ? r.readF32(m.alpha)[0] : rank;
  const scale = file.strength * (alpha / rank);
  for (let o = 0; o < out; o++) {
    const row = o * inner;
    for (let k = 0; k < rank; k++) {
      const u = up[o * rank + k] * scale;
      if (u === 0) continue;
      const drow = k * inner;
      for (let i = 0; i < inner; i++) w[row + i] += u * down[drow + i];
    }
  }
}
