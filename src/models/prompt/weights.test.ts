import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import {
  parsePromptWeights,
  extractLoraTags,
  weightedTokenChunks,
  hasTokenWeights,
  applyTokenWeights,
  EMBEDDING_TOKEN,
  type WeightedSegment,
} from './weights.ts';
import { parsePythonFloat } from './pythonFloat.ts';
import { loadClipTokenizer, type ClipTokenizer } from '../tokenizer/clipTokenizer.ts';

const seg = (text: string, weight: number): WeightedSegment => ({ text, weight });
const W2 = 1.1 * 1.1; // 1.2100000000000002, as Python computes it
const D = 1 / 1.1;

describe('parsePromptWeights segments', () => {
  // Expected values were cross-checked against ComfyUI's token_weights for the round-bracket rows.
  it.each<[string, WeightedSegment[]]>([
    ['a photo of a cat', [seg('a photo of a cat', 1)]],
    ['', []],
    ['a (b) c', [seg('a ', 1), seg('b', 1.1), seg(' c', 1)]],
    ['((cartoon style)), man', [seg('cartoon style', W2), seg(', man', 1)]],
    ['(((a)))', [seg('a', 1.1 * 1.1 * 1.1)]],
    ['(x:1.3)', [seg('x', 1.3)]],
    ['((x:1.5))', [seg('x', 1.5)]], // explicit weight is absolute, not multiplied
    ['(a (b:1.5) c:1.2)', [seg('a ', 1.2), seg('b', 1.5), seg(' c', 1.2)]],
    ['(x: 0.5 )', [seg('x', 0.5)]],
    ['(x:1e-1) (y:-1) (z:1_0)', [seg('x', 0.1), seg(' ', 1), seg('y', -1), seg(' ', 1), seg('z', 10)]],
    ['(x:1.2:1.3)', [seg('x:1.2', 1.3)]], // last colon wins
    ['[x]', [seg('x', D)]],
    ['[[x]]', [seg('x', D / 1.1)]],
    ['([x])', [seg('x', 1.1 / 1.1)]],
    ['[bad hands:0.5]', [seg('bad hands:0.5', D)]], // not a weight in square brackets
    ['\\(literal\\) \\[too\\]', [seg('(literal) [too]', 1)]],
    ['(a \\) b)', [seg('a ) b', 1.1)]],
    ['back\\slash', [seg('back\\slash', 1)]],
    ['{blue eyes}', [seg('{blue eyes}', 1)]],
    ['a\nb (c)', [seg('a\nb ', 1), seg('c', 1.1)]],
    // malformed: ComfyUI fallbacks
    ['(x:abc)', [seg('x:abc', 1.1)]],
    ['(:2)', [seg(':2', 1.1)]],
    ['(x:)', [seg('x:', 1.1)]],
    ['()', []],
    ['(a (b) c', [seg('(a (b) c', 1)]],
    ['a) (b) (c)', [seg('a) (b) (c)', 1)]],
    ['x:1.2)', [seg('x:1.2)', 1)]],
    ['((a) b))(c)', [seg('a', W2), seg(' b', 1.1), seg(')(c)', 1)]],
    ['(a]', [seg('(a]', 1)]],
    ['(a (b)', [seg('a ', 1.1), seg('(b', 1.1)]], // unclosed outer group ends with ')': read as closed there
    ['[a (b]', [seg('a ', D), seg('(b', D)]],
    ['a] [b]', [seg('a] [b]', 1)]],
  ])('%j', (prompt, expected) => {
    expect(parsePromptWeights(prompt).segments).toEqual(expected);
  });

  it('squareBrackets: false parses exactly like ComfyUI (brackets and their escapes are text)', () => {
    expect(parsePromptWeights('[x] (y) \\[z\\]', { squareBrackets: false }).segments).toEqual([
      seg('[x] ', 1), seg('y', 1.1), seg(' \\[z\\]', 1),
    ]);
  });

  it('refuses brackets nested deeper than 256 levels at once (20,000 levels took 84 s, then overflowed the stack)', () => {
    expect(() => parsePromptWeights(`${'('.repeat(20000)}cat${')'.repeat(20000)}`)).toThrow(/brackets nest 20000 levels deep, more than 256/);
    expect(() => parsePromptWeights('['.repeat(300) + 'x')).toThrow(/nest 300 levels/);
    expect(parsePromptWeights(`${'('.repeat(256)}cat${')'.repeat(256)}`).segments).toHaveLength(1);
  });

  it.each(['(x:inf)', '(x:nan)', '(x:1e999)', '(x:-Infinity)', '(x:1e308)', '(x:-3.5e38)'])('refuses non-finite weight %j', (prompt) => {
    expect(() => parsePromptWeights(prompt)).toThrow(/not a finite float32 number/);
  });
});

describe('LoRA tags and embeddings', () => {
  it('extracts LoRA tags from anywhere, removing them from the text', () => {
    const p = parsePromptWeights('a cat <lora:add_detail:0.8>, (dog <lora:style>:1.2) <lora:x:0.5:0.7>');
    expect(p.loras).toEqual([
      { name: 'add_detail', weight: 0.8, textWeight: 0.8 },
      { name: 'style', weight: 1, textWeight: 1 },
      { name: 'x', weight: 0.7, textWeight: 0.5 }, // A1111 order: text encoder, then UNet
    ]);
    expect(p.segments).toEqual([seg('a cat , ', 1), seg('dog ', 1.2), seg(' ', 1)]);
  });

  it.each([
    ['a <lora:foo:0.5', /unterminated LoRA tag/],
    ['<lora::0.5>', /has no name/],
    ['<lora:foo:abc>', /bad LoRA weight "abc"/],
    ['<lora:foo:>', /bad LoRA weight ""/],
    ['<lora:foo:nan>', /finite/],
    ['<lora:a:1:2:3>', /too many/],
  ])('rejects malformed LoRA tag %j', (prompt, message) => {
    expect(() => extractLoraTags(prompt)).toThrow(message);
  });

  it('leaves other angle-bracket text alone', () => {
    expect(extractLoraTags('a <b> c').text).toBe('a <b> c');
  });

  it('reports embedding names once, commas stripped', () => {
    const p = parsePromptWeights('embedding:EasyNegative, (embedding:bad_hands:1.2) embedding:EasyNegative');
    expect(p.embeddings).toEqual(['EasyNegative', 'bad_hands']);
  });
});

describe('parsePythonFloat', () => {
  it.each<[string, number | undefined]>([
    ['1.3', 1.3], [' 2 ', 2], ['.5', 0.5], ['5.', 5], ['+1e2', 100], ['1_000', 1000],
    ['abc', undefined], ['1__0', undefined], ['_1', undefined], ['', undefined], ['1.2.3', undefined], ['0x10', undefined],
  ])('%j → %s', (text, value) => {
    expect(parsePythonFloat(text)).toBe(value);
  });
});

const TABLES = join(import.meta.dirname, '../../../../shared/data/clip-tokenizer');

describe('weightedTokenChunks', () => {
  let tok: ClipTokenizer;
  beforeAll(() => {
    tok = loadClipTokenizer(TABLES);
  });
  const chunks = (prompt: string, opts = {}) => weightedTokenChunks(tok, parsePromptWeights(prompt).segments, opts);

  it('one window with BOS/EOS/pad at weight 1', () => {
    const [c, ...rest] = chunks('a photo of a (cat:1.3)');
    expect(rest).toHaveLength(0);
    expect(c.ids.slice(0, 8)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
    expect(c.ids).toHaveLength(77);
    expect(c.weights.slice(0, 8)).toEqual([1, 1, 1, 1, 1, 1.3, 1, 1]);
    expect(c.weights.slice(6).every((w) => w === 1)).toBe(true);
    expect(hasTokenWeights([c])).toBe(true);
    expect(hasTokenWeights(chunks('a photo of a cat'))).toBe(false);
  });

  it.each([
    'a photo of a cat',
    '1girl, masterpiece, best quality, blue hair, looking at viewer',
    'low quality, worst quality, bad anatomy, bad hands, missing fingers',
  ])('an unweighted short prompt gives the same ids as tokenize77: %j', (prompt) => {
    const [c, ...rest] = chunks(prompt);
    expect(rest).toHaveLength(0);
    expect(c.ids).toEqual(tok.tokenize77(prompt).inputIds);
  });

  it('empty prompt is [BOS, EOS, pad…]; SD2 pads with 0', () => {
    expect(chunks('')[0].ids.slice(0, 3)).toEqual([49406, 49407, 49407]);
    const sd2 = chunks('', { padToken: 0 });
    expect(sd2).toHaveLength(1);
    expect(sd2[0].ids.slice(0, 3)).toEqual([49406, 49407, 0]);
  });

  it('keeps a short word whole by moving it to the next window', () => {
    // 74 × "a" then a 5-token word: 1 + 74 + 5 > 76, so the word starts window 2
    const out = chunks(`${'a '.repeat(74)}(mixed123numbers:1.5)`);
    expect(out).toHaveLength(2);
    expect(out[0].ids.slice(74, 77)).toEqual([320, 49407, 49407]);
    expect(out[1].ids.slice(0, 7)).toEqual([49406, 6780, 272, 273, 274, 6121, 49407]);
    expect(out[1].weights.slice(0, 7)).toEqual([1, 1.5, 1.5, 1.5, 1.5, 1.5, 1]);
  });

  it('splits a word of 8+ tokens across the boundary', () => {
    const out = chunks(`${'a '.repeat(74)}Mixed123Numbers456abc`);
    expect(out).toHaveLength(2);
    expect(out[0].ids.slice(74)).toEqual([320, 6780, 49407]);
    expect(out[1].ids.slice(0, 10)).toEqual([49406, 272, 273, 274, 6121, 275, 276, 277, 5334, 49407]);
  });

  it('splices embeddings via the resolver (ComfyUI comma retry keeps the trailing comma)', () => {
    const sizes: Record<string, number> = { EasyNegative: 2 };
    const out = chunks('embedding:EasyNegative, cat', { resolveEmbedding: (n: string) => sizes[n] });
    expect(out[0].ids.slice(0, 6)).toEqual([49406, EMBEDDING_TOKEN, EMBEDDING_TOKEN, 267, 2368, 49407]);
    expect(out[0].embeddings).toEqual([
      { position: 1, name: 'EasyNegative', vector: 0 },
      { position: 2, name: 'EasyNegative', vector: 1 },
    ]);
  });

  it('missing embedding: error by default, dropped with missingEmbedding "skip", text without a resolver', () => {
    const resolveEmbedding = () => undefined;
    expect(() => chunks('embedding:nope cat', { resolveEmbedding })).toThrow(/embedding "nope" not found/);
    expect(chunks('embedding:nope cat', { resolveEmbedding, missingEmbedding: 'skip' })[0].ids.slice(0, 3)).toEqual([49406, 2368, 49407]);
    expect(chunks('embedding:foo')[0].ids.slice(0, 6)).toEqual([49406, 19703, 796, 281, 23435, 49407]);
  });

  it('rejects bad options', () => {
    expect(() => weightedTokenChunks(tok, [seg('a', NaN)])).toThrow(/non-finite/);
    expect(() => weightedTokenChunks(tok, [], { maxLength: 2 })).toThrow(/maxLength/);
  });
});

describe('applyTokenWeights', () => {
  it('z = (z − z_empty)·w + z_empty for w ≠ 1, untouched for w = 1', () => {
    const z = Float32Array.from([1, 2, 3, 4]);
    const zEmpty = Float32Array.from([0.5, 0.5, 1, 1]);
    expect(Array.from(applyTokenWeights(z, zEmpty, [1, 2], 2, 2))).toEqual([1, 2, 5, 7]);
    expect(Array.from(z)).toEqual([1, 2, 3, 4]); // input not modified
  });

  it('handles several windows against one empty-prompt window, in float32 steps', () => {
    const z = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
    const zEmpty = Float32Array.from([0.7, 0.9]);
    const out = applyTokenWeights(z, zEmpty, [1.1, 1, 0.5, 1], 2, 1);
    const f = Math.fround;
    expect(out[0]).toBe(f(f(f(f(0.1) - f(0.7)) * f(1.1)) + f(0.7)));
    expect(out[1]).toBe(f(0.2));
    expect(out[2]).toBe(f(f(f(f(0.3) - f(0.7)) * 0.5) + f(0.7)));
    expect(out[3]).toBe(f(0.4));
  });

  it.each<[string, () => unknown, RegExp]>([
    ['zEmpty size', () => applyTokenWeights(new Float32Array(4), new Float32Array(3), [1, 1], 2, 2), /zEmpty has 3/],
    ['z size', () => applyTokenWeights(new Float32Array(5), new Float32Array(4), [1, 1], 2, 2), /not a multiple/],
    ['weights count', () => applyTokenWeights(new Float32Array(8), new Float32Array(4), [1, 1], 2, 2), /2 weights for 4/],
    ['non-finite weight', () => applyTokenWeights(new Float32Array(4), new Float32Array(4), [1, NaN], 2, 2), /not finite/],
    ['bad dims', () => applyTokenWeights(new Float32Array(4), new Float32Array(4), [1, 1], 0, 2), /positive integers/],
  ])('rejects bad %s', (_, call, message) => {
    expect(call).toThrow(message);
  });
});
