// Byte-level BPE as in CLIP (openai `simple_tokenizer.py`, HF `CLIPTokenizer.bpe`): every UTF-8 byte of a
// pre-token is mapped to a printable character, the last character carries the end-of-word marker
// `</w>`, and the lowest-ranked adjacent pair is merged until no listed merge applies.

/** End-of-word marker glued to the last symbol of every pre-token. */
export const END_OF_WORD = '</w>';

/**
 * GPT-2/CLIP `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100 upwards in byte order, so every byte has a visible, whitespace-free stand-in.
 */
export function byteToUnicodeTable(): string[] {
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

/** Merge ranks keyed "left right" (symbols never contain a space: the byte table maps ' ' to 'Ġ'). */
export type MergeRanks = ReadonlyMap<string, number>;

/**
 * BPE of one pre-token already written in byte-table characters. Returns the final symbols, the last
 * ending in `</w>`. Same merge order as HF: repeatedly pick the adjacent pair with the lowest rank
 * and merge all its non-overlapping occurrences left to right.
 */
export function bytePairEncode(token: string, ranks: MergeRanks): string[] {
  if (token.length === 0) return [];
  // Byte-table characters are all in the BMP, so code units are symbols.
  let word = token.split('');
  word[word.length - 1] += END_OF_WORD;
  while (word.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < word.length - 1; i++) {
      const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) break;
    const first = word[best];
    const second = word[best + 1];
    const merged: string[] = [];
    for (let i = 0; i < word.length; ) {
      if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
        merged.push(first + second);
        i += 2;
      } else {
        merged.push(word[i]);
        i += 1;
      }
    }
    word = merged;
  }
  return word;
}
