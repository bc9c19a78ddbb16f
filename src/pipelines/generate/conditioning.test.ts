// Text conditioning on the tiny CLIP: the z = (z − z_empty)·w + z_empty rule per token, 77-token
// windows concatenated, clip skip, SD2 padding, token-length alignment for CFG, and errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { weightedTokenChunks } from '../../models/prompt/weights.ts';
import { alignTokenLengths, encodePrompt, parsePrompt, promptLoras, ConditioningError } from './conditioning.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from './tinyCheckpoint.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cond-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

assertTinyModels();
describe('text conditioning (tiny CLIP)', () => {
  let ckpt: Checkpoint;
  beforeAll(async () => {
    ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(dir, 'tiny')), { cacheDir: false });
  });
  afterAll(async () => ckpt?.release());

  const raw = async (ids: number[], skip = 0) => {
    const { encoder } = await ckpt.useTextEncoder();
    const out = await encoder.encode([ids], { skip });
    return skip === 0 ? out.last_hidden_state.data : out.skip_hidden_state_ln.data;
  };

  it('an unweighted prompt is exactly the CLIP output of its window', async () => {
    const c = await encodePrompt(ckpt, 'a photo of a cat');
    expect([c.tokens, c.hidden]).toEqual([77, 32]);
    const ids = ckpt.tokenizer.tokenize77('a photo of a cat').inputIds;
    expect(Array.from(c.data)).toEqual(Array.from(await raw(ids)));
    // (x:1) is weight 1: identical; [x] and (x) are not.
    expect(Array.from((await encodePrompt(ckpt, '(a photo:1) of a cat')).data)).toEqual(Array.from(c.data));
  });

  it('weighted tokens follow z = (z − z_empty)·w + z_empty, others are untouched', async () => {
    const c = await encodePrompt(ckpt, 'a (photo:1.5) of a cat');
    const ids = ckpt.tokenizer.tokenize77('a photo of a cat').inputIds;
    const z = await raw(ids);
    const zEmpty = await raw(weightedTokenChunks(ckpt.tokenizer, [])[0].ids);
    const h = 32;
    let maxErr = 0;
    for (let t = 0; t < 77; t++) {
      const w = t === 2 ? 1.5 : 1; // BOS, "a", "photo", …
      for (let k = 0; k < h; k++) {
        const want = w === 1 ? z[t * h + k] : (z[t * h + k] - zEmpty[t * h + k]) * w + zEmpty[t * h + k];
        maxErr = Math.max(maxErr, Math.abs(c.data[t * h + k] - want));
      }
    }
    expect(maxErr).toBeLessThan(1e-6);
    expect(c.data[2 * h]).not.toBe(z[2 * h]);
  });

  it('long prompts become several 77-token windows, concatenated', async () => {
    const long = Array.from({ length: 100 }, (_, i) => `word${i % 7}`).join(' ');
    const c = await encodePrompt(ckpt, long);
    expect(c.tokens % 77).toBe(0);
    expect(c.tokens).toBeGreaterThan(77);
    const chunks = weightedTokenChunks(ckpt.tokenizer, parsePrompt(long).segments);
    expect(c.tokens).toBe(77 * chunks.length);
    expect(Array.from(c.data.subarray(77 * 32, 2 * 77 * 32))).toEqual(Array.from(await raw(chunks[1].ids)));
  });

  it('clip skip 2 takes the penultimate layer through the final LayerNorm', async () => {
    const c = await encodePrompt(ckpt, 'a cat', { clipSkip: 2 });
    const ids = ckpt.tokenizer.tokenize77('a cat').inputIds;
    expect(Array.from(c.data)).toEqual(Array.from(await raw(ids, 1)));
    expect(Array.from(c.data)).not.toEqual(Array.from(await raw(ids)));
    await expect(encodePrompt(ckpt, 'a cat', { clipSkip: 0 })).rejects.toThrow(ConditioningError);
  });

  it('aligns different window counts by repetition (ComfyUI cond_cat)', () => {
    const a = { data: Float32Array.from({ length: 77 * 2 }, (_, i) => i), tokens: 77, hidden: 2 };
    const b = { data: new Float32Array(154 * 2).fill(7), tokens: 154, hidden: 2 };
    const [a2, b2] = alignTokenLengths([a, b]);
    expect(a2.tokens).toBe(154);
    expect(b2).toBe(b);
    expect(Array.from(a2.data.subarray(154, 308))).toEqual(Array.from(a.data));
  });

  it('collects LoRA tags from both prompts (later wins) and reports prompt errors clearly', () => {
    const loras = promptLoras(parsePrompt('a <lora:ink:0.5> cat'), parsePrompt('<lora:ink:0.7> <lora:grain>'));
    expect(loras).toEqual([{ name: 'ink', weight: 0.7, textWeight: 0.7 }, { name: 'grain', weight: 1, textWeight: 1 }]);
    expect(() => parsePrompt('a <lora:ink:abc> cat')).toThrow(/bad prompt: bad LoRA weight/);
    expect(() => parsePrompt(42 as unknown as string)).toThrow(/prompt must be a string/);
  });
});
