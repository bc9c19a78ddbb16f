// Weighted segments → 77-token CLIP windows with a weight per token, as ComfyUI's
// SDTokenizer.tokenize_with_weights builds them: every word is tokenized on its own (a word whose
// "word</w>" is in the vocab is looked up directly), words are kept whole in a window when they fit,
// and only a word of 8+ tokens is split across windows.
import type { ClipTokenizer } from '../tokenizer/clipTokenizer.ts';
import { EMBEDDING_PREFIX, segmentWords } from './promptWords.ts';
import type { WeightedSegment } from './weights.ts';

/** Placeholder id at positions that carry a textual-inversion vector instead of a vocab token. */
export const EMBEDDING_TOKEN = -1;

export interface EmbeddingSlot {
  /** Token position inside the window. */
  position: number;
  name: string;
  /** Row of the embedding's [n, hidden] matrix placed there. */
  vector: number;
}

export interface WeightedTokenChunk {
  /** `maxLength` ids: BOS, tokens, EOS, padding. EMBEDDING_TOKEN marks embedding slots. */
  ids: number[];
  /** Weight per position; BOS, EOS and padding are 1.0. */
  weights: number[];
  embeddings: EmbeddingSlot[];
}

export interface WeightedChunkOptions {
  /** Window size, default 77. */
  maxLength?: number;
  /** Padding id: the EOS id for SD1 (default), 0 for SD2. */
  padToken?: number;
  /**
   * Number of vectors of a textual-inversion embedding, or undefined when it does not exist. Without
   * this resolver `embedding:name` is tokenized as ordinary text (ComfyUI without an embeddings folder).
   */
  resolveEmbedding?: (name: string) => number | undefined;
  /**
   * What to do with an `embedding:name` the resolver does not know: 'error' (default) throws;
   * 'skip' drops the word like ComfyUI does (it only logs a warning).
   */
  missingEmbedding?: 'error' | 'skip';
}

/** ComfyUI keeps a word of fewer tokens than this in one window. */
const MAX_WORD_LENGTH = 8;

type Piece = { id: number; weight: number; slot?: { name: string; vector: number } };

/** Tokens of one word, or of an embedding (ComfyUI `_try_get_embedding`, including its comma retry). */
function wordPieces(tok: Pick<ClipTokenizer, 'encode' | 'tokenIdOf'>, word: string, weight: number, opts: WeightedChunkOptions): Piece[][] {
  const groups: Piece[][] = [];
  if (opts.resolveEmbedding && word.startsWith(EMBEDDING_PREFIX)) {
    const requested = word.slice(EMBEDDING_PREFIX.length);
    let name = requested;
    let count = opts.resolveEmbedding(name);
    let leftover = '';
    if (count === undefined) {
      const stripped = requested.replace(/^,+|,+$/g, '');
      if (stripped.length < requested.length) {
        name = stripped;
        count = opts.resolveEmbedding(stripped);
        leftover = requested.slice(stripped.length); // as ComfyUI: assumes the commas trailed
      }
    }
    if (count === undefined) {
      if ((opts.missingEmbedding ?? 'error') === 'error') {
        throw new Error(`embedding ${JSON.stringify(requested)} not found (used as "${word}" in the prompt)`);
      }
    } else {
      if (!Number.isInteger(count) || count < 1) throw new Error(`embedding ${JSON.stringify(name)}: vector count must be a positive integer, got ${count}`);
      groups.push(Array.from({ length: count }, (_, vector) => ({ id: EMBEDDING_TOKEN, weight, slot: { name, vector } })));
    }
    if (leftover === '') return groups;
    word = leftover;
  }
  const exact = tok.tokenIdOf(`${word}</w>`);
  const ids = exact !== undefined ? [exact] : tok.encode(word);
  groups.push(ids.map((id) => ({ id, weight })));
  return groups;
}

/**
 * Packs weighted segments into CLIP windows exactly as ComfyUI does. Always returns at least one
 * window ([BOS, EOS, pad…] for an empty prompt).
 */
export function weightedTokenChunks(
  tok: Pick<ClipTokenizer, 'encode' | 'tokenIdOf' | 'bosId' | 'eosId'>,
  segments: readonly WeightedSegment[],
  opts: WeightedChunkOptions = {},
): WeightedTokenChunk[] {
  const maxLength = opts.maxLength ?? 77;
  if (!Number.isInteger(maxLength) || maxLength < 3) throw new Error(`maxLength must be an integer ≥ 3, got ${maxLength}`);
  const pad = opts.padToken ?? tok.eosId;
  const special = (id: number): Piece => ({ id, weight: 1.0 });

  const groups: Piece[][] = [];
  for (const seg of segments) {
    if (!Number.isFinite(seg.weight)) throw new Error(`segment ${JSON.stringify(seg.text)} has a non-finite weight ${seg.weight}`);
    for (const word of segmentWords(seg.text)) groups.push(...wordPieces(tok, word, seg.weight, opts));
  }

  const windows: Piece[][] = [];
  let batch: Piece[] = [special(tok.bosId)];
  windows.push(batch);
  for (let group of groups) {
    // ComfyUI: words of 8+ tokens may be split; shorter ones move whole to the next window. A word
    // that cannot fit even an empty window (only with a tiny maxLength) is split too, to terminate.
    const splittable = group.length >= MAX_WORD_LENGTH || group.length > maxLength - 2;
    while (group.length > 0) {
      if (group.length + batch.length > maxLength - 1) {
        const remaining = maxLength - batch.length - 1;
        if (splittable) {
          batch.push(...group.slice(0, remaining), special(tok.eosId));
          group = group.slice(remaining);
        } else {
          batch.push(special(tok.eosId));
          for (let i = 0; i < remaining; i++) batch.push(special(pad));
        }
        batch = [special(tok.bosId)];
        windows.push(batch);
      } else {
        batch.push(...group);
        group = [];
      }
    }
  }
  batch.push(special(tok.eosId));
  while (batch.length < maxLength) batch.push(special(pad));

  return windows.map((w) => ({
    ids: w.map((p) => p.id),
    weights: w.map((p) => p.weight),
    embeddings: w.flatMap((p, position) => (p.slot ? [{ position, ...p.slot }] : [])),
  }));
}

/** True when some token weight is not 1 — then the empty prompt must be encoded too (ComfyUI has_weights). */
export function hasTokenWeights(chunks: readonly WeightedTokenChunk[]): boolean {
  return chunks.some((c) => c.weights.some((w) => w !== 1.0));
}
