// CLIP text tokenizer, id-for-id the Hugging Face `CLIPTokenizer` (slow, with ftfy) used by Stable
// Diffusion 1.x/2.x: special-token split → ftfy + whitespace clean + lower case → regex pre-tokens →
// UTF-8 bytes as printable characters → BPE with `</w>` end-of-word → vocab ids.
// The tables (vocab.json, merges.txt) are read from disk, never embedded; see resolveTokenizerDir.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bytePairEncode, byteToUnicodeTable, END_OF_WORD } from './bytePairEncoding.ts';
import { cleanClipText } from './ftfyFixText.ts';
import { readTextLimited } from '../../files/readText.ts';

export { resolveTokenizerDir, tokenizerDirCandidates, type TokenizerDirOptions } from './resolveTokenizerDir.ts';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** CLIP's context length: BOS + 75 tokens + EOS. */
export const CLIP_MAX_LENGTH = 77;

/** HF `CLIPTokenizer` uses only the first 49152 − 256 − 2 merges of merges.txt (after the header line). */
const MAX_MERGES = 49152 - 256 - 2;
/** Bound on the pre-token → ids cache so a long-running server does not grow without limit. */
const CACHE_LIMIT = 20_000;

/** The openai/HF CLIP pre-tokeniser (HF compiles it with re.IGNORECASE; the text is lower case by then). */
const PRETOKEN_RE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;
/** HF splits special tokens out of the raw text before any cleaning; ftfy then sees each piece alone. */
const SPECIAL_SPLIT_RE = /(<\|startoftext\|>|<\|endoftext\|>)/;

export interface TokenizeOptions {
  /** Pad id: 49407 (`<|endoftext|>`, SD1.x) or 0 (`!`, SD2.x). Default 49407. */
  padToken?: number;
  /** Default 77. */
  maxLength?: number;
  /** Cut to maxLength (keeping the final EOS). Default true; when false a long prompt is returned unpadded. */
  truncation?: boolean;
}

export interface TokenizedText {
  inputIds: number[];
  /** 1 for BOS, text and EOS; 0 for padding. */
  attentionMask: number[];
}

export interface ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly vocabSize: number;
  /** BPE ids of the text without BOS/EOS. */
  encode(text: string): number[];
  /** Vocab id of one token string (byte-table characters, `</w>` suffix), if present. */
  tokenIdOf(token: string): number | undefined;
  /** Text for ids (special tokens kept literally, end-of-word markers as spaces). */
  decode(ids: readonly number[]): string;
  /** `tokenizer(text, padding="max_length", max_length=77, truncation=True)`. */
  tokenize77(text: string, opts?: TokenizeOptions): TokenizedText;
  /**
   * Long prompts as consecutive 75-token windows, each `[BOS, …75, EOS]` padded to 77
   * (A1111/ComfyUI style); always at least one window. For weighted prompts use weightedTokenChunks.
   */
  tokenizeWindows(text: string, opts?: Omit<TokenizeOptions, 'truncation' | 'maxLength'>): TokenizedText[];
}

function readTable(dir: string, name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`CLIP tokenizer: ${name} not found in ${dir}`);
  return readTextLimited(path);
}

/** Reads vocab.json + merges.txt from `dir` (use resolveTokenizerDir to find it). */
export function loadClipTokenizer(dir: string): ClipTokenizer {
  let vocabJson: unknown;
  try {
    vocabJson = JSON.parse(readTable(dir, 'vocab.json'));
  } catch (e) {
    if (e instanceof SyntaxError) throw new Error(`CLIP tokenizer: ${join(dir, 'vocab.json')} is not valid JSON: ${e.message}`);
    throw e;
  }
  if (typeof vocabJson !== 'object' || vocabJson === null || Array.isArray(vocabJson)) {
    throw new Error(`CLIP tokenizer: ${join(dir, 'vocab.json')} must be an object of token → id`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(vocabJson)) {
    if (!Number.isInteger(id)) throw new Error(`CLIP tokenizer: vocab.json id of ${JSON.stringify(token)} is not an integer`);
    vocab.set(token, id as number);
  }
  const mergeLines = readTable(dir, 'merges.txt').trim().split('\n').slice(1, 1 + MAX_MERGES);
  const ranks = new Map<string, number>();
  mergeLines.forEach((line, rank) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new Error(`CLIP tokenizer: merges.txt line ${rank + 2} is not "left right": ${JSON.stringify(line)}`);
    // Python builds dict(zip(merges, range(...))): a repeated pair keeps its last rank.
    ranks.set(`${parts[0]} ${parts[1]}`, rank);
  });
  return makeClipTokenizer(vocab, ranks);
}

function makeClipTokenizer(vocab: ReadonlyMap<string, number>, ranks: ReadonlyMap<string, number>): ClipTokenizer {
  const bosId = vocab.get(START_OF_TEXT);
  const eosId = vocab.get(END_OF_TEXT);
  if (bosId === undefined || eosId === undefined) {
    throw new Error(`CLIP tokenizer: vocab.json lacks ${START_OF_TEXT} or ${END_OF_TEXT}; is this a CLIP vocabulary?`);
  }
  const byteTable = byteToUnicodeTable();
  const unicodeToByte = new Map(byteTable.map((c, b) => [c, b]));
  let idToToken: Map<number, string> | undefined; // built on first decode: loading stays cheap
  const utf8 = new TextEncoder();
  const cache = new Map<string, number[]>();

  const bpeIds = (pretoken: string): number[] => {
    const hit = cache.get(pretoken);
    if (hit) return hit;
    let encoded = '';
    for (const b of utf8.encode(pretoken)) encoded += byteTable[b];
    // HF maps a token missing from the vocab to unk (= <|endoftext|>); byte-level BPE never produces one
    // with the real tables, but a truncated vocab must not crash.
    const ids = bytePairEncode(encoded, ranks).map((sym) => vocab.get(sym) ?? eosId);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pretoken, ids);
    return ids;
  };

  const encodePiece = (piece: string, out: number[]): void => {
    for (const m of cleanClipText(piece).matchAll(PRETOKEN_RE)) {
      const t = m[0];
      // HF's BPE cache is seeded with the two specials, so they map straight to their ids.
      if (t === START_OF_TEXT) out.push(bosId);
      else if (t === END_OF_TEXT) out.push(eosId);
      else out.push(...bpeIds(t));
    }
  };

  const encode = (text: string): number[] => {
    const out: number[] = [];
    for (const piece of text.split(SPECIAL_SPLIT_RE)) {
      if (piece === START_OF_TEXT) out.push(bosId);
      else if (piece === END_OF_TEXT) out.push(eosId);
      else if (piece !== '') encodePiece(piece, out);
    }
    return out;
  };

  const pad = (ids: number[], maxLength: number, padToken: number): TokenizedText => {
    const attentionMask = ids.map(() => 1);
    while (ids.length < maxLength) {
      ids.push(padToken);
      attentionMask.push(0);
    }
    return { inputIds: ids, attentionMask };
  };

  const checkLength = (maxLength: number): void => {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`CLIP tokenizer: maxLength must be an integer ≥ 2, got ${maxLength}`);
  };

  return {
    bosId,
    eosId,
    vocabSize: vocab.size,
    encode,
    tokenIdOf: (token) => vocab.get(token),
    decode(ids) {
      const bytes: number[] = [];
      const parts: string[] = [];
      const flush = (): void => {
        if (bytes.length) parts.push(new TextDecoder().decode(Uint8Array.from(bytes)));
        bytes.length = 0;
      };
      idToToken ??= new Map([...vocab].map(([t, id]) => [id, t]));
      for (const id of ids) {
        const tok = idToToken.get(id);
        if (tok === undefined) throw new Error(`CLIP tokenizer: id ${id} is not in the vocabulary`);
        if (tok === START_OF_TEXT || tok === END_OF_TEXT) {
          flush();
          parts.push(tok);
          continue;
        }
        const word = tok.endsWith(END_OF_WORD) ? tok.slice(0, -END_OF_WORD.length) : tok;
        for (const ch of word) bytes.push(unicodeToByte.get(ch) ?? 0x3f);
        if (word !== tok) bytes.push(0x20);
      }
      flush();
      return parts.join('').trim();
    },
    tokenize77(text, opts = {}) {
      const maxLength = opts.maxLength ?? CLIP_MAX_LENGTH;
      checkLength(maxLength);
      let ids = [bosId, ...encode(text), eosId];
      if ((opts.truncation ?? true) && ids.length > maxLength) ids = [...ids.slice(0, maxLength - 1), eosId];
      return pad(ids, maxLength, opts.padToken ?? eosId);
    },
    tokenizeWindows(text, opts = {}) {
      const body = encode(text);
      const span = CLIP_MAX_LENGTH - 2;
      const windows: TokenizedText[] = [];
      for (let i = 0; i === 0 || i < body.length; i += span) {
        windows.push(pad([bosId, ...body.slice(i, i + span), eosId], CLIP_MAX_LENGTH, opts.padToken ?? eosId));
      }
      return windows;
    },
  };
}
