// A word-level tag tokenizer for inkflow's own small text models (the bundled text-to-image model):
// lower-case words and commas looked up in a vocabulary file shipped with the model
// (`tokenizer/tag_vocab.json`), anything else is `<unk>`. It offers the ClipTokenizer interface, with the
// same 77-token windows [BOS, tokens, EOS, padding], so prompt weighting, LoRA tags and the CLIPTextEncode
// node work unchanged; CLIP's BPE tables are not needed (and cannot ship with the product).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readTextLimited } from '../../files/readText.ts';
import { CLIP_MAX_LENGTH, type ClipTokenizer, type TokenizedText, type TokenizeOptions } from './clipTokenizer.ts';

export const TAG_VOCAB_FILE = 'tag_vocab.json';
export const TAG_BOS = '<|startoftext|>';
export const TAG_EOS = '<|endoftext|>';
export const TAG_UNK = '<unk>';

/** What tag_vocab.json holds: `tokens[i]` is the token with id i. */
export interface TagVocabFile {
  type: 'inkflow-tag-vocab';
  version: 1;
  tokens: string[];
}

/** BOS, EOS, unknown, comma, then the words: the layout every tag vocabulary uses. */
export function tagVocab(words: readonly string[]): TagVocabFile {
  return { type: 'inkflow-tag-vocab', version: 1, tokens: [TAG_BOS, TAG_EOS, TAG_UNK, ',', ...[...new Set(words.map((w) => w.toLowerCase()))]] };
}

/** Words and commas of a text, lower case (everything else separates words). */
export function tagWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+|,/gu) ?? [];
}

export function tagTokenizer(vocab: TagVocabFile): ClipTokenizer {
  const ids = new Map(vocab.tokens.map((t, i) => [t, i]));
  const bosId = ids.get(TAG_BOS)!;
  const eosId = ids.get(TAG_EOS)!;
  const unkId = ids.get(TAG_UNK)!;
  const encode = (text: string): number[] => tagWords(text).map((w) => ids.get(w) ?? unkId);
  const window = (body: number[], pad: number, length: number): TokenizedText => {
    const inputIds = [bosId, ...body, eosId];
    const attentionMask = inputIds.map(() => 1);
    while (inputIds.length < length) {
      inputIds.push(pad);
      attentionMask.push(0);
    }
    return { inputIds, attentionMask };
  };
  return {
    bosId, eosId, vocabSize: vocab.tokens.length,
    encode,
    // CLIP's word lookups carry the end-of-word marker; a tag word is a whole word anyway.
    tokenIdOf: (token) => ids.get(token.replace(/<\/w>$/, '').toLowerCase()),
    decode: (list) => list.map((i) => vocab.tokens[i] ?? TAG_UNK).join(' ').replace(/ ,/g, ','),
    tokenize77(text: string, opts: TokenizeOptions = {}) {
      const length = opts.maxLength ?? CLIP_MAX_LENGTH;
      let body = encode(text);
      if (opts.truncation ?? true) body = body.slice(0, length - 2);
      return window(body, opts.padToken ?? eosId, length);
    },
    tokenizeWindows(text, opts = {}) {
      const body = encode(text);
      const out: TokenizedText[] = [];
      for (let i = 0; i === 0 || i < body.length; i += CLIP_MAX_LENGTH - 2) out.push(window(body.slice(i, i + CLIP_MAX_LENGTH - 2), opts.padToken ?? eosId, CLIP_MAX_LENGTH));
      return out;
    },
  };
}

export class TagVocabError extends Error {
  override name = 'TagVocabError';
}

export function parseTagVocab(raw: unknown, source: string): TagVocabFile {
  const v = raw as Partial<TagVocabFile> | null;
  if (!v || v.type !== 'inkflow-tag-vocab' || v.version !== 1 || !Array.isArray(v.tokens) || !v.tokens.every((t) => typeof t === 'string')) {
    throw new TagVocabError(`${source}: not an inkflow tag vocabulary (expected {"type": "inkflow-tag-vocab", "version": 1, "tokens": [...]})`);
  }
  for (const special of [TAG_BOS, TAG_EOS, TAG_UNK]) if (!v.tokens.includes(special)) throw new TagVocabError(`${source}: the vocabulary has no ${special} token`);
  if (new Set(v.tokens).size !== v.tokens.length) throw new TagVocabError(`${source}: the vocabulary lists a token twice`);
  return v as TagVocabFile;
}

/** The tag vocabulary in `dir` (a model folder or its tokenizer/ subfolder), if there is one. */
export function findTagVocab(dir: string): string | undefined {
  return [join(dir, 'tokenizer', TAG_VOCAB_FILE), join(dir, TAG_VOCAB_FILE)].find((p) => existsSync(p));
}

export function loadTagTokenizer(path: string): ClipTokenizer {
  let raw: unknown;
  try {
    raw = JSON.parse(readTextLimited(path));
  } catch (e) {
    throw new TagVocabError(`${path}: ${(e as Error).message}`);
  }
  return tagTokenizer(parseTagVocab(raw, path));
}
