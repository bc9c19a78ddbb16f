// Golden handler for tokenizer/clip_tokenizer.json: HF CLIPTokenizer (slow, with ftfy) ids for a set of
// prompts, plus the max_length=77 padded forms for SD1 (pad <|endoftext|>) and SD2 (pad "!" = 0).
import { join } from 'node:path';
import { expect, it, beforeAll } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { fileExists, goldenRoot, readJson } from '../io.ts';
import { loadClipTokenizer, resolveTokenizerDir, type ClipTokenizer } from '../../../src/models/tokenizer/clipTokenizer.ts';
import { fixText } from '../../../src/models/tokenizer/ftfyFixText.ts';

interface Padded { input_ids: number[]; attention_mask: number[] }
interface TokenizerCase {
  text: string;
  ids: number[];
  ftfy_fixed: string;
  padded77_sd1: Padded;
  padded77_sd2: Padded;
}
interface TokenizerGolden {
  special: { startoftext: number; endoftext: number; sd1_pad: number; sd2_pad: number; model_max_length: number };
  known_word_ids: Record<string, number>;
  cases: TokenizerCase[];
}

/**
 * Cases whose ids are known not to match, by text, with the reason. Empty: every golden case matches.
 * (The ftfy step we do not port, mojibake repair, is not exercised by these prompts.)
 */
const KNOWN_MISMATCHES: ReadonlyMap<string, string> = new Map();

const FILE = 'clip_tokenizer.json';
// The tables live beside the goldens in the shared folder (../data/clip-tokenizer), not in the product.
const TABLES = join(goldenRoot, '../data/clip-tokenizer');

export const handler: GoldenHandler = {
  name: 'tokenizer',
  recognise(dir) {
    if (!fileExists(join(dir, FILE))) return false;
    const g = readJson<Partial<TokenizerGolden>>(join(dir, FILE));
    return Array.isArray(g.cases) && g.special?.startoftext === 49406;
  },
  register(dir) {
    const golden = readJson<TokenizerGolden>(join(dir, FILE));
    let tok: ClipTokenizer;
    beforeAll(() => {
      tok = loadClipTokenizer(resolveTokenizerDir({ tokenizerDir: TABLES }));
    });

    it('known word ids', () => {
      for (const [word, id] of Object.entries(golden.known_word_ids)) expect(tok.encode(word), word).toEqual([id]);
      expect([tok.bosId, tok.eosId]).toEqual([golden.special.startoftext, golden.special.endoftext]);
    });

    it(`ids match HF CLIPTokenizer+ftfy (${golden.cases.length} cases)`, () => {
      const mismatched: string[] = [];
      for (const c of golden.cases) {
        const ids = [tok.bosId, ...tok.encode(c.text), tok.eosId];
        if (JSON.stringify(ids) !== JSON.stringify(c.ids)) mismatched.push(c.text);
      }
      console.log(`[golden] tokenizer ids: ${golden.cases.length - mismatched.length}/${golden.cases.length} cases match exactly`);
      expect(mismatched).toEqual([...KNOWN_MISMATCHES.keys()]);
    });

    it('fixText reproduces ftfy.fix_text', () => {
      for (const c of golden.cases) expect(fixText(c.text), JSON.stringify(c.text)).toBe(c.ftfy_fixed);
    });

    it('padded77 SD1 (pad 49407) and SD2 (pad 0) input_ids + attention_mask', () => {
      const maxLength = golden.special.model_max_length;
      for (const c of golden.cases) {
        if (KNOWN_MISMATCHES.has(c.text)) continue;
        const sd1 = tok.tokenize77(c.text, { padToken: golden.special.sd1_pad, maxLength });
        expect(sd1.inputIds, `sd1 ${JSON.stringify(c.text)}`).toEqual(c.padded77_sd1.input_ids);
        expect(sd1.attentionMask, `sd1 mask ${JSON.stringify(c.text)}`).toEqual(c.padded77_sd1.attention_mask);
        const sd2 = tok.tokenize77(c.text, { padToken: golden.special.sd2_pad, maxLength });
        expect(sd2.inputIds, `sd2 ${JSON.stringify(c.text)}`).toEqual(c.padded77_sd2.input_ids);
        expect(sd2.attentionMask, `sd2 mask ${JSON.stringify(c.text)}`).toEqual(c.padded77_sd2.attention_mask);
      }
    });
  },
};
