import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClipTokenizer, resolveTokenizerDir, type ClipTokenizer } from './clipTokenizer.ts';
import { bytePairEncode, byteToUnicodeTable } from './bytePairEncoding.ts';
import { fixText, whitespaceClean, cleanClipText } from './ftfyFixText.ts';

// The product never embeds the tables; tests read the shared copy.
const TABLES = join(import.meta.dirname, '../../../../shared/data/clip-tokenizer');

let tok: ClipTokenizer;
beforeAll(() => {
  tok = loadClipTokenizer(resolveTokenizerDir({ tokenizerDir: TABLES, env: {} }));
});

describe('clip tokenizer ids', () => {
  it.each([
    ['a', [320]],
    ['photo', [1125]],
    ['cat', [2368]],
    ['of', [539]],
    ['dog', [1929]],
    [',', [267]],
    ['a photo of a cat', [320, 1125, 539, 320, 2368]],
    ['A PHOTO OF A CAT', [320, 1125, 539, 320, 2368]],
    ['', []],
    ['   \n\t ', []],
    ['<|startoftext|> a <|endoftext|>', [49406, 320, 49407]],
    // literal special tokens after lower-casing still hit HF's seeded BPE cache
    ['<|ENDOFTEXT|>', [49407]],
  ])('encode(%j)', (text, ids) => {
    expect(tok.encode(text)).toEqual(ids);
  });

  it('has the CLIP specials', () => {
    expect([tok.bosId, tok.eosId, tok.vocabSize]).toEqual([49406, 49407, 49408]);
    expect(tok.tokenIdOf('a</w>')).toBe(320);
    expect(tok.tokenIdOf('no-such-token')).toBeUndefined();
  });

  it('decodes back to cleaned text', () => {
    expect(tok.decode(tok.encode('Hello, World!!! ÀÉ 日本 🙂'))).toBe('hello , world !!! àé 日本 🙂');
    expect(() => tok.decode([99999])).toThrow(/not in the vocabulary/);
  });
});

describe('tokenize77 and windows', () => {
  it('pads SD1 with <|endoftext|> and SD2 with "!" (id 0)', () => {
    const sd1 = tok.tokenize77('a cat');
    expect(sd1.inputIds.slice(0, 5)).toEqual([49406, 320, 2368, 49407, 49407]);
    expect(sd1.inputIds).toHaveLength(77);
    expect(sd1.attentionMask.slice(0, 5)).toEqual([1, 1, 1, 1, 0]);
    const sd2 = tok.tokenize77('a cat', { padToken: 0 });
    expect(sd2.inputIds.slice(0, 5)).toEqual([49406, 320, 2368, 49407, 0]);
    expect(sd2.inputIds.slice(4).every((x) => x === 0)).toBe(true);
  });

  it('truncates to 77 keeping EOS; truncation=false returns everything', () => {
    const text = 'the '.repeat(100);
    const cut = tok.tokenize77(text);
    expect(cut.inputIds).toHaveLength(77);
    expect(cut.inputIds[76]).toBe(49407);
    expect(cut.attentionMask.every((m) => m === 1)).toBe(true);
    expect(tok.tokenize77(text, { truncation: false }).inputIds).toHaveLength(102);
    expect(() => tok.tokenize77('x', { maxLength: 1 })).toThrow(/maxLength/);
  });

  it('splits long prompts into 75-token windows', () => {
    const the = tok.encode('the')[0];
    const w = tok.tokenizeWindows('the '.repeat(100));
    expect(w).toHaveLength(2);
    expect(w[0].inputIds).toEqual([49406, ...Array(75).fill(the), 49407]);
    expect(w[1].inputIds.slice(0, 27)).toEqual([49406, ...Array(25).fill(the), 49407]);
    expect(w[1].attentionMask.filter((m) => m === 1)).toHaveLength(27);
    expect(tok.tokenizeWindows('')).toHaveLength(1);
    expect(tok.tokenizeWindows('the '.repeat(75))).toHaveLength(1);
  });
});

describe('ftfy subset', () => {
  it.each([
    ['&amp; &lt;tag&gt; &quot;q&quot;', '& <tag> "q"'],
    ['double &amp;amp; escaped', 'double & escaped'], // fixed point: unescaped twice
    ['a <b>bold</b> &amp; move', 'a <b>bold</b> &amp; move'], // '<' ⇒ looks like HTML, leave entities
    ['&amp;\n<b>\n&amp;', '&\n<b>\n&amp;'], // per line, and off for the rest once '<' is seen
    ['&#39;&#x41;&#X42;&#128;&#0;', "'AB€\ufffd"],
    ['&#65a; &#xZZ; &bogus; &constructor;', '&#65a; &#xZZ; &bogus; &constructor;'],
    ['&EACUTE; &eacute; &Eacute; &nbsp;', 'É é É \u00a0'],
    ['ﬁne ﬂower ǅ', 'fine flower Dž'],
    ['ｶﾀｶﾅ ＡＢ\u3000x', 'カタカナ AB x'],
    ['“a” ‘b’ — …', '"a" \'b\' — …'],
    ['\x93quoted\x94', '"quoted"'], // C1 controls are cp1252 bytes
    ['tab\r\nnext\u2028line', 'tab\nnext\nline'],
    ['\x1b[31mred\x1b[0m', 'red'],
    ['a\x00b\ufeffc\x7f', 'abc'],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
    ['e\u0301clair', 'éclair'],
  ])('fixText(%j)', (input, expected) => {
    expect(fixText(input)).toBe(expected);
  });

  it('collapses whitespace the way Python re \\s does', () => {
    expect(whitespaceClean(' a\x1c\x85b\u3000\tc ')).toBe('a b c');
    expect(whitespaceClean('a\u200bb')).toBe('a\u200bb'); // zero-width space is not whitespace
    expect(cleanClipText('  İstanbul ẞ ')).toBe('i\u0307stanbul ß');
  });
});

describe('byte-level BPE', () => {
  it('maps all 256 bytes to distinct printable characters', () => {
    const t = byteToUnicodeTable();
    expect(new Set(t).size).toBe(256);
    expect(t[0x20]).toBe('Ġ');
    expect(t[0x41]).toBe('A');
  });

  it('merges the lowest rank first, left to right, with </w> on the last symbol', () => {
    const ranks = new Map([['a a', 0], ['aa a</w>', 1]]);
    expect(bytePairEncode('aaa', ranks)).toEqual(['aaa</w>']);
    // 'a a' merges left to right without overlap; 'a a</w>' is not a merge, so the tail stays split
    expect(bytePairEncode('aaaa', ranks)).toEqual(['aa', 'a', 'a</w>']);
    expect(bytePairEncode('x', ranks)).toEqual(['x</w>']);
    expect(bytePairEncode('', ranks)).toEqual([]);
  });
});

describe('loading errors', () => {
  const scratch = (): string => mkdtempSync(join(tmpdir(), 'inkflow-tok-'));

  it('lists every place searched when the tables are missing', () => {
    const home = scratch();
    let msg = '';
    try {
      resolveTokenizerDir({ tokenizerDir: '/nope/tok', modelDir: '/nope/model', env: { INKFLOW_TOKENIZER: '/nope/env' }, homeDir: home });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('/nope/tok (tokenizerDir option)');
    expect(msg).toContain('/nope/model (model folder)');
    expect(msg).toContain('/nope/model/tokenizer (model folder tokenizer/)');
    expect(msg).toContain('/nope/env (INKFLOW_TOKENIZER)');
    expect(msg).toContain(join(home, '.cache/huggingface/hub/models--openai--clip-vit-large-patch14/snapshots/*'));
    expect(msg).toContain('INKFLOW_TOKENIZER');
  });

  it('finds the tables in a model tokenizer/ folder and in the HF cache', () => {
    const model = scratch();
    mkdirSync(join(model, 'tokenizer'));
    for (const f of ['vocab.json', 'merges.txt']) copyFileSync(join(TABLES, f), join(model, 'tokenizer', f));
    expect(resolveTokenizerDir({ modelDir: model, env: {} })).toBe(join(model, 'tokenizer'));

    const home = scratch();
    const snap = join(home, 'hf/hub/models--openai--clip-vit-large-patch14/snapshots/abc123');
    mkdirSync(snap, { recursive: true });
    for (const f of ['vocab.json', 'merges.txt']) writeFileSync(join(snap, f), '');
    expect(resolveTokenizerDir({ env: { HF_HOME: join(home, 'hf') }, homeDir: '/nope' })).toBe(snap);
  });

  it('rejects broken tables with the file name', () => {
    const dir = scratch();
    expect(() => loadClipTokenizer(dir)).toThrow(/vocab\.json not found/);
    writeFileSync(join(dir, 'vocab.json'), '{"a": 1');
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\na b\n');
    expect(() => loadClipTokenizer(dir)).toThrow(/vocab\.json is not valid JSON/);
    writeFileSync(join(dir, 'vocab.json'), '{"a</w>": 0}');
    expect(() => loadClipTokenizer(dir)).toThrow(/lacks <\|startoftext\|>/);
    writeFileSync(join(dir, 'vocab.json'), '{"a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}');
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\na b c\n');
    expect(() => loadClipTokenizer(dir)).toThrow(/merges\.txt line 2/);
  });
});
