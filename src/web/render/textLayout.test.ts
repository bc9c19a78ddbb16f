import { describe, expect, it } from 'vitest';
import { wrapText } from './textLayout.ts';

const mono = (s: string) => s.length; // every character 1 unit wide

describe('wrapText', () => {
  it('wraps by words, keeps paragraphs and blank lines', () => {
    expect(wrapText('the quick brown fox jumps', 10, mono)).toEqual(['the quick', 'brown fox', 'jumps']);
    expect(wrapText('one\n\ntwo three', 20, mono)).toEqual(['one', '', 'two three']);
  });

  it('breaks a word wider than the box between letters', () => {
    expect(wrapText('AAAAAAAAAAAAA!', 5, mono)).toEqual(['AAAAA', 'AAAAA', 'AAA!']);
    expect(wrapText('hi AAAAAAAAAAA', 5, mono)).toEqual(['hi', 'AAAAA', 'AAAAA', 'A']);
  });

  it('does not begin a line with a closing mark when it breaks Japanese text (kinsoku)', () => {
    expect(wrapText('こんにちは、世界！', 8, mono)).toEqual(['こんにちは、世', '界！']);
    expect(wrapText('ありがとう。', 5, mono)).toEqual(['ありがと', 'う。']);
  });
});
