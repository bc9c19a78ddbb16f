import { describe, expect, it } from 'vitest';
import { linkSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './command.ts';
import { describeError, exitCodeFor } from './errors.ts';
import { parseSeed } from './options.ts';
import { numberedOutputs, planOutputs, writeOutputs } from './outputPlan.ts';

describe('planOutputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inkflow-plan-'));
  const input = join(dir, 'page.png');
  writeFileSync(input, 'line art');
  linkSync(input, join(dir, 'hard.png'));
  symlinkSync(input, join(dir, 'soft.png'));

  it.each([['the same path', 'page.png'], ['a hard link', 'hard.png'], ['a symlink', 'soft.png']])('refuses an output that is the input through %s, even with --overwrite', (_, name) => {
    expect(() => planOutputs([join(dir, name)], [{ flag: '--lineart', path: input }], { overwrite: true })).toThrow(/it is the --lineart input .*; writing it would destroy the input/);
  });

  it('refuses an output named twice and an existing one without --overwrite; writes all together', () => {
    expect(() => planOutputs([join(dir, 'a.png'), join(dir, '.', 'a.png')], [])).toThrow(/it is also the output/);
    const plan = planOutputs(numberedOutputs(join(dir, 'c.png'), 3), []);
    expect(plan.paths.map((p) => p.slice(dir.length + 1))).toEqual(['c.png', 'c-2.png', 'c-3.png']);
    writeOutputs(plan, [Buffer.from('1'), Buffer.from('2'), Buffer.from('3')]);
    expect(readFileSync(join(dir, 'c-3.png'), 'utf8')).toBe('3');
    let err: unknown;
    try {
      planOutputs([join(dir, 'c.png')], []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(exitCodeFor(err)).toBe(2);
    expect(describeError(err)).toBe(`output ${join(dir, 'c.png')} — the file already exists (pass --overwrite to replace it, or choose another -o)`);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('errors and seeds', () => {
  it('bugs are called internal errors, input errors keep their message; both exit 1', () => {
    expect(describeError(new TypeError('x is undefined'))).toBe('internal error — TypeError: x is undefined (rerun with INKFLOW_DEBUG=1 and report the stack trace)');
    expect(describeError(new Error('model.safetensors is truncated'))).toBe('model.safetensors is truncated');
    expect(exitCodeFor(new Error('x'))).toBe(1);
    const nan = Object.assign(new Error('UNet output at step 2/20 (timestep 894) has 4 non-finite values of 64 (first NaN at index 0)'), { name: 'NonFiniteError' });
    expect(describeError(nan)).toMatch(/^UNet output at step 2\/20 .* — the model computed NaN\/inf, so the image would be black \(check the model file/);
  });

  it('seeds cover 0 … 2^64−1 exactly', () => {
    expect(parseSeed('0')).toBe(0n);
    expect(parseSeed('18446744073709551615')).toBe(2n ** 64n - 1n);
    for (const bad of ['18446744073709551616', '-1', '1.5', '1e3', '', '0x10']) expect(() => parseSeed(bad)).toThrow(UsageError);
  });
});
