// Prompt weighting syntax, as ComfyUI parses it (`comfy/sd1_clip.py` token_weights/parse_parentheses),
// plus A1111's `[x]` and LoRA tags:
//   (x)        weight × 1.1 per nesting level        ((x)) → 1.21
//   (x:1.3)    weight set to 1.3 (absolute, also when nested: ((x:1.3)) → 1.3)
//   [x]        weight ÷ 1.1 per level (A1111); `[x:0.5]` is NOT a weight: text "x:0.5" at ÷1.1
//              (A1111 prompt editing/scheduling is not supported)
//   \( \) \[ \]  literal brackets; any other backslash is literal text
//   <lora:name:w>  removed from the text, returned in `loras` (see loraTags.ts)
//   embedding:name  reported in `embeddings`; weightedTokenChunks can splice its vectors in
//
// Malformed input follows ComfyUI so that prompts written for it give the same conditioning:
//   * an unclosed '(' or '[' turns the rest of the prompt into one item; unless that item happens to end
//     with the matching closer it is literal text at the outer weight, brackets included ("(a (b) c" is
//     the text "(a (b) c", weight 1); if it does end so, it is read as a group closed there and the
//     inner opener becomes the literal one ("(a (b)" is "a " and "(b", both at 1.1);
//   * a stray ')' or ']' is literal, and ComfyUI's depth counter then stays below zero, so the
//     brackets after it on the same level are literal too ("a) (b)" is the text "a) (b)", weight 1);
//   * mismatched kinds "(a]" are literal text;
//   * a weight that Python's float() rejects is text: "(x:abc)" is "x:abc" at 1.1, "(:2)" is ":2" at 1.1.
// Deliberate differences from ComfyUI: a weight that parses to ±inf or NaN in float32 ("(x:inf)", "(x:1e308)")
// throws instead of producing NaN embeddings, and LoRA tag errors throw (loraTags.ts).
import { parsePythonFloat } from './pythonFloat.ts';
import { extractLoraTags, type LoraTag } from './loraTags.ts';
import { EMBEDDING_PREFIX, embeddingName, segmentWords } from './promptWords.ts';

export { extractLoraTags, type LoraTag } from './loraTags.ts';
export { weightedTokenChunks, hasTokenWeights, EMBEDDING_TOKEN, type WeightedTokenChunk, type EmbeddingSlot, type WeightedChunkOptions } from './weightedTokenChunks.ts';
export { applyTokenWeights } from './applyTokenWeights.ts';
export { EMBEDDING_PREFIX, embeddingName, segmentWords } from './promptWords.ts';

export interface WeightedSegment {
  text: string;
  weight: number;
}

export interface ParsedPrompt {
  /** Text pieces in order with their weights (ComfyUI token_weights output, LoRA tags removed). */
  segments: WeightedSegment[];
  loras: LoraTag[];
  /** Names used as `embedding:name` (trailing/leading commas stripped), first occurrence order. */
  embeddings: string[];
}

export interface PromptParseOptions {
  /** Treat `[x]` as ×1/1.1 (A1111). Default true; false parses exactly like ComfyUI (brackets are text). */
  squareBrackets?: boolean;
}

/** ComfyUI's per-level multiplier. */
export const ROUND_BRACKET_MULTIPLIER = 1.1;

/** One parsed character, or an escape pair like "\\(" that stands for a literal bracket. */
type Unit = string;

function toUnits(text: string, escapable: string): Unit[] {
  const units: Unit[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length && escapable.includes(text[i + 1])) {
      units.push(text.slice(i, i + 2));
      i++;
    } else {
      units.push(text[i]);
    }
  }
  return units;
}

const unitsToText = (units: readonly Unit[]): string => units.map((u) => (u.length === 2 ? u[1] : u)).join('');

/**
 * ComfyUI parse_parentheses, with '[' ']' sharing the depth counter when enabled: splits the
 * top level into plain runs and bracketed groups (a group keeps its brackets).
 */
function splitTopLevel(units: readonly Unit[], open: string, close: string): Unit[][] {
  const result: Unit[][] = [];
  let current: Unit[] = [];
  let depth = 0;
  for (const u of units) {
    if (open.includes(u)) {
      if (depth === 0) {
        if (current.length) result.push(current);
        current = [u];
      } else {
        current.push(u);
      }
      depth++;
    } else if (close.includes(u)) {
      depth--;
      current.push(u);
      if (depth === 0) {
        result.push(current);
        current = [];
      }
    } else {
      current.push(u);
    }
  }
  if (current.length) result.push(current);
  return result;
}

/** ComfyUI token_weights. */
function tokenWeights(units: readonly Unit[], weight: number, square: boolean, out: WeightedSegment[]): void {
  for (const item of splitTopLevel(units, square ? '([' : '(', square ? ')]' : ')')) {
    const first = item[0];
    const last = item[item.length - 1];
    if (item.length >= 2 && first === '(' && last === ')') {
      let inner = item.slice(1, -1);
      let w = weight * ROUND_BRACKET_MULTIPLIER;
      const colon = inner.lastIndexOf(':');
      if (colon > 0) {
        const raw = inner.slice(colon + 1).join('');
        const explicit = parsePythonFloat(raw);
        if (explicit !== undefined) {
          // Weights are applied in float32 (as torch does): 1e308 is finite here but inf there.
          if (!Number.isFinite(Math.fround(explicit))) throw new Error(`prompt weight ${JSON.stringify(raw.trim())} is not a finite float32 number in (${unitsToText(inner)})`);
          w = explicit;
          inner = inner.slice(0, colon);
        }
      }
      tokenWeights(inner, w, square, out);
    } else if (square && item.length >= 2 && first === '[' && last === ']') {
      tokenWeights(item.slice(1, -1), weight / ROUND_BRACKET_MULTIPLIER, square, out);
    } else {
      out.push({ text: unitsToText(item), weight });
    }
  }
}

/**
 * Deepest bracket nesting accepted. Parsing re-scans every level (time grows with depth × length) and
 * recurses once per level: 20,000 nested "(" took 84 s and then overflowed the stack. Real prompts nest
 * a handful of levels ((((x)))) = ×1.46).
 */
export const MAX_BRACKET_DEPTH = 256;

function maxDepth(units: readonly Unit[], open: string): number {
  let depth = 0;
  let max = 0;
  for (const u of units) {
    if (open.includes(u)) max = Math.max(max, ++depth);
    else if (u === ')' || u === ']') depth--;
  }
  return max;
}

/** Parses weights, LoRA tags and embedding references out of a prompt. See the file comment for the syntax. */
export function parsePromptWeights(prompt: string, opts: PromptParseOptions = {}): ParsedPrompt {
  const square = opts.squareBrackets ?? true;
  const { text, loras } = extractLoraTags(prompt);
  const segments: WeightedSegment[] = [];
  const units = toUnits(text, square ? '()[]' : '()');
  const depth = maxDepth(units, square ? '([' : '(');
  if (depth > MAX_BRACKET_DEPTH) throw new Error(`brackets nest ${depth} levels deep, more than ${MAX_BRACKET_DEPTH} (each level multiplies the weight by 1.1; use (word:1.5) instead)`);
  tokenWeights(units, 1.0, square, segments);
  const embeddings: string[] = [];
  for (const s of segments) {
    for (const word of segmentWords(s.text)) {
      if (!word.startsWith(EMBEDDING_PREFIX)) continue;
      const name = embeddingName(word);
      if (name && !embeddings.includes(name)) embeddings.push(name);
    }
  }
  return { segments, loras, embeddings };
}
