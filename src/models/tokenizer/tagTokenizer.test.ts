import { describe, expect, it } from 'vitest';
import { parseTagVocab, tagTokenizer, tagVocab, TagVocabError } from './tagTokenizer.ts';
import { weightedTokenChunks } from '../prompt/weightedTokenChunks.ts';
import { parsePromptWeights } from '../prompt/weights.ts';

const vocab = tagVocab(['red', 'blue', 'hair', 'shirt', 'arms', 'up']);
const tok = tagTokenizer(vocab);
const id = (w: string) => vocab.tokens.indexOf(w);

describe('tag tokenizer', () => {
  it('maps lower-cased words and commas to vocabulary ids, anything else to <unk>', () => {
    expect(tok.encode('Red hair, BLUE shirt')).toEqual([id('red'), id('hair'), id(','), id('blue'), id('shirt')]);
    expect(tok.encode('green hair!')).toEqual([id('<unk>'), id('hair')]);
    expect(tok.decode(tok.encode('red hair, arms up'))).toBe('red hair, arms up');
  });

  it('makes 77-token windows [BOS, tokens, EOS, padding] like CLIP', () => {
    const t = tok.tokenize77('red hair');
    expect(t.inputIds.slice(0, 4)).toEqual([tok.bosId, id('red'), id('hair'), tok.eosId]);
    expect(t.inputIds).toHaveLength(77);
    expect(t.inputIds.slice(4).every((x) => x === tok.eosId)).toBe(true);
    expect(t.attentionMask.filter((m) => m === 1)).toHaveLength(4);
    const long = tok.tokenizeWindows(Array(100).fill('red').join(' '));
    expect(long).toHaveLength(2);
    expect(long[1].inputIds.filter((x) => x === id('red'))).toHaveLength(25);
  });

  it('works with ComfyUI-style weighted prompt windows (the CLIPTextEncode path)', () => {
    const chunks = weightedTokenChunks(tok, parsePromptWeights('(red hair:1.3), blue shirt').segments, { padToken: tok.eosId });
    expect(chunks).toHaveLength(1);
    const c = chunks[0];
    expect(c.ids.slice(0, 7)).toEqual([tok.bosId, id('red'), id('hair'), id(','), id('blue'), id('shirt'), tok.eosId]);
    expect(c.weights.slice(1, 3).map((w) => Math.round(w * 10) / 10)).toEqual([1.3, 1.3]);
    expect(c.weights[4]).toBe(1);
  });

  it('refuses files that are not tag vocabularies', () => {
    expect(() => parseTagVocab({ tokens: ['a'] }, 'x.json')).toThrow(TagVocabError);
    expect(() => parseTagVocab({ type: 'inkflow-tag-vocab', version: 1, tokens: ['a', 'b'] }, 'x.json')).toThrow(/no <\|startoftext\|>/);
    expect(() => parseTagVocab({ ...vocab, tokens: [...vocab.tokens, 'red'] }, 'x.json')).toThrow(/twice/);
    expect(parseTagVocab(JSON.parse(JSON.stringify(vocab)), 'x.json').tokens).toEqual(vocab.tokens);
  });
});
