// SDXL text conditioning as ComfyUI computes it (comfy/sdxl_clip.py, nodes CLIPTextEncode /
// CLIPTextEncodeSDXL / CLIPTextEncodeSDXLRefiner, comfy/model_base.py SDXL.encode_adm):
//   * text_l → CLIP ViT-L windows (pad EOS), text_g → OpenCLIP bigG windows (pad 0 = "!"); a plain prompt
//     feeds both. The shorter side gets empty windows until both have as many.
//   * each tower: the penultimate hidden state (no final LayerNorm), prompt weights applied per tower
//     against its own empty-prompt encoding (z' = (z − z_empty)·w + z_empty), windows concatenated;
//   * context = [ViT-L 768 ‖ bigG 1280] = 2048 per token (refiner: bigG alone, 1280);
//   * pooled = bigG text_projection(final_layer_norm(last layer)[EOS]) of the FIRST window, unweighted;
//   * `embedding:name` splices the file's clip_l vectors into ViT-L and its clip_g vectors into bigG;
//   * micro-conditioning ids: base [height, width, crop_h, crop_w, target_height, target_width], refiner
//     [height, width, crop_h, crop_w, aesthetic_score]; ComfyUI's defaults are the image size for sizes,
//     0 for crops, aesthetic score 6 (positive) / 2.5 (negative).
import type { SdxlCheckpoint, SdxlTextEncoders } from '../../models/checkpoint/sdxlCheckpoint.ts';
import type { ClipTextEncoder } from '../../models/clip/textEncoder.ts';
import { applyTokenWeights, EMBEDDING_TOKEN, hasTokenWeights, weightedTokenChunks, type ParsedPrompt, type WeightedTokenChunk } from '../../models/prompt/weights.ts';
import { ConditioningError, parsePrompt, type TextConditioning } from './conditioning.ts';

export interface SdxlPromptText {
  /** bigG text (ComfyUI text_g). */
  g: string;
  /** ViT-L text (ComfyUI text_l); defaults to `g`. */
  l?: string;
}

export interface SdxlConditioning {
  /** [tokens, 2048] (refiner: 1280). */
  context: TextConditioning;
  /** bigG pooled, projected: [projection_dim]. */
  pooled: Float32Array;
}

export interface SdxlMicroConditioning {
  /** Original size (ComfyUI width / height); default the image size. */
  width?: number;
  height?: number;
  cropW?: number;
  cropH?: number;
  /** Target size; default the image size. */
  targetWidth?: number;
  targetHeight?: number;
  /** Refiner only; default 6 for the positive prompt, 2.5 for the negative. */
  aestheticScore?: number;
}

/** The add_time_ids of one prompt for an image of `imageWidth`×`imageHeight`. */
export function sdxlTimeIds(ckpt: Pick<SdxlCheckpoint, 'kind'>, imageWidth: number, imageHeight: number, m: SdxlMicroConditioning = {}, negative = false): Float32Array {
  const h = m.height ?? imageHeight;
  const w = m.width ?? imageWidth;
  const ids = ckpt.kind === 'refiner'
    ? [h, w, m.cropH ?? 0, m.cropW ?? 0, m.aestheticScore ?? (negative ? 2.5 : 6)]
    : [h, w, m.cropH ?? 0, m.cropW ?? 0, m.targetHeight ?? imageHeight, m.targetWidth ?? imageWidth];
  for (const v of ids) if (!Number.isFinite(v)) throw new ConditioningError(`SDXL micro-conditioning values must be finite numbers, got ${ids.join(', ')}`);
  return Float32Array.from(ids);
}

interface TowerOutput {
  /** [windows·77, hidden], weighted. */
  z: Float32Array;
  hidden: number;
  tokens: number;
  /** text_embeds of the first window (bigG only). */
  pooled?: Float32Array;
}

function chunksOf(ckpt: SdxlCheckpoint, parsed: ParsedPrompt, pad: number, tower: 'l' | 'g'): WeightedTokenChunk[] {
  const lib = tower === 'g' ? ckpt.embeddings.g : ckpt.embeddings.l;
  try {
    return weightedTokenChunks(ckpt.tokenizer, parsed.segments, { padToken: pad, resolveEmbedding: lib ? (name) => lib.count(name) : undefined });
  } catch (e) {
    throw new ConditioningError((e as Error).message);
  }
}

/** Embedding names the chunks use. */
const embeddingNames = (chunks: readonly WeightedTokenChunk[]) => chunks.flatMap((c) => c.embeddings.map((e) => e.name));

/** The chunks with each embedding slot replaced by its token id in that tower's extended table. */
function withEmbeddingIds(chunks: readonly WeightedTokenChunk[], towers: SdxlTextEncoders, tower: 'l' | 'g'): WeightedTokenChunk[] {
  return chunks.map((c) => {
    if (!c.embeddings.length) return c;
    const ids = c.ids.slice();
    for (const e of c.embeddings) ids[e.position] = towers.idOf(tower, e.name, e.vector);
    if (ids.includes(EMBEDDING_TOKEN)) throw new ConditioningError('internal: an embedding slot was left without a vector');
    return { ...c, ids };
  });
}

async function encodeTower(encoder: ClipTextEncoder, chunks: readonly WeightedTokenChunk[], emptyIds: number[], wantPooled: boolean, signal?: AbortSignal): Promise<TowerOutput> {
  const hidden = encoder.config.hidden_size;
  const tokens = chunks[0].ids.length;
  const z = new Float32Array(chunks.length * tokens * hidden);
  let pooled: Float32Array | undefined;
  for (let k = 0; k < chunks.length; k++) {
    signal?.throwIfAborted();
    const out = await encoder.encode([chunks[k].ids], { skip: 1 });
    z.set(out.skip_hidden_state.data, k * tokens * hidden);
    if (k === 0 && wantPooled) {
      if (!out.text_embeds) throw new ConditioningError('the bigG text encoder has no text_projection: SDXL needs its pooled output');
      pooled = out.text_embeds.data.slice();
    }
  }
  if (!hasTokenWeights(chunks)) return { z, hidden, tokens, pooled };
  const empty = (await encoder.encode([emptyIds], { skip: 1 })).skip_hidden_state.data;
  return { z: applyTokenWeights(z, empty, chunks.flatMap((c) => c.weights), tokens, hidden), hidden, tokens, pooled };
}

/** Encodes parsed g / l prompts with the checkpoint's towers (LoRAs must already be merged into `ckpt`). */
export async function encodeSdxlParsed(ckpt: SdxlCheckpoint, g: ParsedPrompt, l: ParsedPrompt, signal?: AbortSignal): Promise<SdxlConditioning> {
  const gPad = ckpt.textG.padToken;
  let gChunks = chunksOf(ckpt, g, gPad, 'g');
  const gEmpty = weightedTokenChunks(ckpt.tokenizer, [], { padToken: gPad });
  if (!ckpt.textL) {
    const towers = await ckpt.useTextEncoders([...new Set(embeddingNames(gChunks))]);
    const out = await encodeTower(towers.g, withEmbeddingIds(gChunks, towers, 'g'), gEmpty[0].ids, true, signal);
    return { context: { data: out.z, tokens: out.z.length / out.hidden, hidden: out.hidden }, pooled: out.pooled! };
  }
  const lPad = ckpt.textL.padToken;
  let lChunks = chunksOf(ckpt, l, lPad, 'l');
  const lEmpty = weightedTokenChunks(ckpt.tokenizer, [], { padToken: lPad });
  // ComfyUI CLIPTextEncodeSDXL: pad the side with fewer windows with empty windows.
  while (lChunks.length < gChunks.length) lChunks = [...lChunks, lEmpty[0]];
  while (gChunks.length < lChunks.length) gChunks = [...gChunks, gEmpty[0]];
  // Both towers get every embedding the prompt names (an SDXL embedding file holds clip_l and clip_g vectors).
  const towers = await ckpt.useTextEncoders([...new Set([...embeddingNames(gChunks), ...embeddingNames(lChunks)])]);
  if (!towers.l) throw new ConditioningError('internal: SDXL base checkpoint without its ViT-L encoder');
  const lOut = await encodeTower(towers.l, withEmbeddingIds(lChunks, towers, 'l'), lEmpty[0].ids, false, signal);
  const gOut = await encodeTower(towers.g, withEmbeddingIds(gChunks, towers, 'g'), gEmpty[0].ids, true, signal);
  return { context: concatTokens(lOut, gOut), pooled: gOut.pooled! };
}

/** Per-token concatenation [a ‖ b] along the channel axis. */
function concatTokens(a: TowerOutput, b: TowerOutput): TextConditioning {
  const n = Math.min(a.z.length / a.hidden, b.z.length / b.hidden);
  const hidden = a.hidden + b.hidden;
  const data = new Float32Array(n * hidden);
  for (let t = 0; t < n; t++) {
    data.set(a.z.subarray(t * a.hidden, (t + 1) * a.hidden), t * hidden);
    data.set(b.z.subarray(t * b.hidden, (t + 1) * b.hidden), t * hidden + a.hidden);
  }
  return { data, tokens: n, hidden };
}

/** Parses and encodes an SDXL prompt (g and l texts; LoRA tags are ignored here, the pipeline applies them). */
export async function encodeSdxlPrompt(ckpt: SdxlCheckpoint, text: SdxlPromptText, opts: { squareBrackets?: boolean; signal?: AbortSignal } = {}): Promise<SdxlConditioning> {
  const g = parsePrompt(text.g, opts);
  const l = text.l === undefined ? g : parsePrompt(text.l, opts);
  return encodeSdxlParsed(ckpt, g, l, opts.signal);
}
