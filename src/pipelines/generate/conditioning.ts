// Text conditioning as ComfyUI's CLIPTextEncode computes it (comfy/sd1_clip.py):
//   1. parse weights, `<lora:…>` tags and `embedding:name` out of the prompt (models/prompt);
//   2. pack words into 77-token windows [BOS, ≤75 tokens, EOS, pad] with a weight per token;
//   3. encode every window with CLIP (the chosen layer: clip skip 1 = last layer, n = n-th from the end
//      followed by the final LayerNorm, as CLIPSetLastLayer(-n));
//   4. if any weight ≠ 1, encode the empty window too and set z = (z − z_empty)·w + z_empty per token;
//   5. concatenate the windows along the token axis.
// Textual-inversion vectors ride in the token table (see models/checkpoint/embeddings.ts).
import type { Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import type { Embedding } from '../../models/checkpoint/embeddings.ts';
import { assertFinite, NonFiniteError } from '../../sampling/finiteCheck.ts';
import { assertFiniteStage } from '../nonFiniteStage.ts';
import { applyTokenWeights, EMBEDDING_TOKEN, hasTokenWeights, parsePromptWeights, weightedTokenChunks, type LoraTag, type ParsedPrompt } from '../../models/prompt/weights.ts';

export interface TextConditioning {
  /** [tokens, hidden], windows of 77 concatenated. */
  readonly data: Float32Array;
  readonly tokens: number;
  readonly hidden: number;
}

export interface ConditioningOptions {
  /** 1 = last layer (default), 2 = penultimate, … (A1111 "clip skip"; ComfyUI CLIPSetLastLayer −n). */
  clipSkip?: number;
  /** Treat `[x]` as ×1/1.1 (A1111, default) or as plain text (ComfyUI). */
  squareBrackets?: boolean;
  signal?: AbortSignal;
}

export class ConditioningError extends Error {
  override name = 'ConditioningError';
}

/** Parses a prompt (weights, LoRA tags, embeddings) without encoding it. */
export function parsePrompt(prompt: string, opts: Pick<ConditioningOptions, 'squareBrackets'> = {}): ParsedPrompt {
  if (typeof prompt !== 'string') throw new ConditioningError(`prompt must be a string, got ${typeof prompt}`);
  // Characters, checked before any tokenizing: 8 per token of the conditioning limit (~92,000 by default).
  const maxChars = 8 * maxConditioningTokens();
  if (prompt.length > maxChars) throw new ConditioningError(`prompt too long: ${prompt.length} characters, more than ${maxChars} (shorten it; INKFLOW_MAX_PROMPT_TOKENS raises the limit)`);
  try {
    return parsePromptWeights(prompt, { squareBrackets: opts.squareBrackets });
  } catch (e) {
    throw new ConditioningError(`bad prompt: ${(e as Error).message}`);
  }
}

/** LoRA tags of several prompts, later tags with the same name replacing earlier ones. */
export function promptLoras(...parsed: ParsedPrompt[]): LoraTag[] {
  const byName = new Map<string, LoraTag>();
  for (const p of parsed) for (const l of p.loras) byName.set(l.name, l);
  return [...byName.values()];
}

/** Encodes a parsed prompt with the checkpoint's text encoder (LoRAs must already be in `ckpt`). */
export async function encodeParsedPrompt(ckpt: Checkpoint, parsed: ParsedPrompt, opts: ConditioningOptions = {}): Promise<TextConditioning> {
  const clipSkip = opts.clipSkip ?? 1;
  const layers = ckpt.textConfig.num_hidden_layers;
  if (!Number.isInteger(clipSkip) || clipSkip < 1 || clipSkip > layers) {
    throw new ConditioningError(`clip skip must be an integer 1..${layers} (1 = last layer), got ${clipSkip}`);
  }
  const tok = ckpt.tokenizer;
  let chunks;
  try {
    chunks = weightedTokenChunks(tok, parsed.segments, { padToken: ckpt.padToken, resolveEmbedding: (name) => ckpt.embeddings.count(name) });
  } catch (e) {
    throw new ConditioningError((e as Error).message);
  }
  const maxTokens = maxConditioningTokens();
  if (chunks.length * chunks[0].ids.length > maxTokens) {
    throw new ConditioningError(`prompt too long: ${chunks.length} windows of ${chunks[0].ids.length} tokens, more than the limit of ${maxTokens} tokens (shorten it; INKFLOW_MAX_PROMPT_TOKENS raises the limit)`);
  }
  const used: Embedding[] = [];
  for (const c of chunks) for (const s of c.embeddings) if (!used.some((e) => e.name === s.name)) used.push(ckpt.embeddings.get(s.name));
  const { encoder, idOf } = await ckpt.useTextEncoder(used);
  const windows = chunks.map((c) => {
    const ids = c.ids.slice();
    for (const s of c.embeddings) ids[s.position] = idOf(s.name, s.vector);
    if (ids.includes(EMBEDDING_TOKEN)) throw new ConditioningError('internal: an embedding slot was left without a vector');
    return ids;
  });
  const output = clipSkip === 1 ? 'last_hidden_state' : 'skip_hidden_state_ln';
  const encodeOne = async (ids: number[]): Promise<Float32Array> => {
    opts.signal?.throwIfAborted();
    const out = await encoder.encode([ids], { skip: clipSkip - 1 });
    return out[output].data;
  };
  const hidden = ckpt.textConfig.hidden_size;
  const tokens = windows[0].length;
  const z = new Float32Array(windows.length * tokens * hidden);
  for (let k = 0; k < windows.length; k++) z.set(await encodeOne(windows[k]), k * tokens * hidden);
  assertFiniteStage('text conditioning', z, 'encoded prompt', 'text', () => ckpt.weightFiles('text'));
  if (!hasTokenWeights(chunks)) return { data: z, tokens: z.length / hidden, hidden };
  const empty = weightedTokenChunks(tok, [], { padToken: ckpt.padToken })[0].ids;
  const zEmpty = await encodeOne(empty);
  const weights = chunks.flatMap((c) => c.weights);
  const weighted = applyTokenWeights(z, zEmpty, weights, tokens, hidden);
  try {
    assertFinite(weighted, 'weighted prompt');
  } catch (e) {
    const w = weights.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 1);
    throw new ConditioningError(`text conditioning produced non-finite numbers: ${(e as NonFiniteError).message} — the prompt weight ${w} overflows float32 (use weights between about −10 and 10)`);
  }
  return { data: weighted, tokens: z.length / hidden, hidden };
}

/** Parses and encodes; LoRA tags in the text are ignored here (the pipeline applies them to `ckpt` first). */
export async function encodePrompt(ckpt: Checkpoint, prompt: string, opts: ConditioningOptions = {}): Promise<TextConditioning> {
  return encodeParsedPrompt(ckpt, parsePrompt(prompt, opts), opts);
}

/**
 * Longest conditioning the UNet gets (positive and negative aligned), INKFLOW_MAX_PROMPT_TOKENS or 150
 * windows (11,550 tokens, ~10,000 words). Cross-attention memory and time grow linearly with it, and
 * aligning two prompts repeats them to the least common multiple of their window counts: 149 and 150
 * windows would make 22,350 windows without this bound.
 */
export function maxConditioningTokens(): number {
  const env = Number(process.env.INKFLOW_MAX_PROMPT_TOKENS);
  return Number.isInteger(env) && env > 0 ? env : 150 * 77;
}

/**
 * Repeats conditionings along the token axis to a common length (their least common multiple), as
 * ComfyUI's cond_cat does when positive and negative prompts have different window counts.
 */
export function alignTokenLengths(conds: readonly TextConditioning[], maxTokens = maxConditioningTokens()): TextConditioning[] {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const target = conds.reduce((l, c) => (l * c.tokens) / gcd(l, c.tokens), 1);
  if (target > maxTokens) {
    const windows = conds.map((c) => c.tokens / 77).join(' and ');
    throw new ConditioningError(`prompts too long: ${windows} windows of 77 tokens align to ${target} tokens (their least common multiple), over the limit of ${maxTokens} (shorten the prompt or the negative prompt, or give them equal window counts; INKFLOW_MAX_PROMPT_TOKENS raises the limit)`);
  }
  return conds.map((c) => {
    if (c.tokens === target) return c;
    const data = new Float32Array(target * c.hidden);
    for (let r = 0; r < target / c.tokens; r++) data.set(c.data, r * c.data.length);
    return { data, tokens: target, hidden: c.hidden };
  });
}
