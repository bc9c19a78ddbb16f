// A1111-style `<lora:name>` / `<lora:name:w>` / `<lora:name:te:unet>` tags: removed from the prompt
// text and returned separately so the pipeline can apply the LoRA before encoding.
import { parsePythonFloat } from './pythonFloat.ts';

export interface LoraTag {
  name: string;
  /** Strength on the UNet (ComfyUI `strength_model`). */
  weight: number;
  /** Strength on the text encoder (ComfyUI `strength_clip`); equals `weight` unless given separately. */
  textWeight: number;
}

const LORA_OPEN_RE = /<lora:/gi;

function loraNumber(raw: string, tag: string): number {
  const w = parsePythonFloat(raw);
  if (w === undefined || !Number.isFinite(w)) throw new Error(`bad LoRA weight ${JSON.stringify(raw)} in ${tag}: expected a finite number`);
  return w;
}

/**
 * Removes every LoRA tag from `text`. `<lora:name>` is strength 1.0, `<lora:name:w>` sets both
 * strengths, and `<lora:name:te:unet>` follows A1111's order (text encoder first, UNet second).
 * Errors (thrown, since silently mis-applying a LoRA is worse than stopping): a tag without its
 * closing '>', an empty name, a weight that is not a finite number, more than two weights.
 */
export function extractLoraTags(text: string): { text: string; loras: LoraTag[] } {
  const loras: LoraTag[] = [];
  let out = '';
  let pos = 0;
  for (const m of text.matchAll(LORA_OPEN_RE)) {
    const start = m.index;
    if (start < pos) continue; // inside a tag already consumed
    const close = text.indexOf('>', start);
    if (close < 0) throw new Error(`unterminated LoRA tag at character ${start}: ${JSON.stringify(text.slice(start, start + 40))} has no closing '>'`);
    const tag = text.slice(start, close + 1);
    const parts = text.slice(start + m[0].length, close).split(':');
    const name = parts[0].trim();
    if (!name) throw new Error(`LoRA tag ${tag} has no name`);
    if (parts.length > 3) throw new Error(`LoRA tag ${tag} has too many ':' fields; use <lora:name:weight> or <lora:name:te:unet>`);
    let weight = 1;
    let textWeight = 1;
    if (parts.length === 2) weight = textWeight = loraNumber(parts[1], tag);
    if (parts.length === 3) {
      textWeight = loraNumber(parts[1], tag);
      weight = loraNumber(parts[2], tag);
    }
    loras.push({ name, weight, textWeight });
    out += text.slice(pos, start);
    pos = close + 1;
  }
  return { text: out + text.slice(pos), loras };
}
