// Fuzz test of the safetensors reader: thousands of seeded mutations of real files must each end
// in either a reader whose every tensor reads back within the file, or a SafetensorsError. The
// mutations and checks live in safetensorsFuzz.ts; `npm run bench -- fuzz` runs 100,000+ of them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DTYPE_SIZE, ST_DTYPES } from './dtype.ts';
import { openSafetensors, openSafetensorsBuffer, writeSafetensors } from './safetensors.ts';
import { makeRng, mutate, report, runCase, splitFile, type Tally } from './safetensorsFuzz.ts';

const projectRoot = resolve(import.meta.dirname, '../..');
const goldenRoot = resolve(projectRoot, process.env.INKFLOW_GOLDEN ?? '../shared/golden');
const unetTiny = join(goldenRoot, 'models/unet_tiny/weights.safetensors');

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'inkflow-fuzz-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('safetensors fuzz', () => {
  it('3000 mutations of the golden unet_tiny file (in memory)', async () => {
    const base = splitFile(new Uint8Array(readFileSync(unetTiny)));
    const rng = makeRng(20240601);
    const tally: Tally = { opened: 0, rejected: 0, slowestMs: 0, messages: new Map() };
    for (let i = 0; i < 3000; i++) {
      if (i % 100 === 0) await new Promise(setImmediate); // let vitest's worker RPC breathe
      const { bytes, desc } = mutate(rng, base);
      runCase('unet_tiny.safetensors', bytes, () => openSafetensorsBuffer(bytes, 'unet_tiny.safetensors'), tally, `case ${i} (${desc})`);
    }
    report('unet_tiny', tally);
    // Both outcomes must be well represented, or the mutations are not testing anything.
    expect(tally.opened).toBeGreaterThan(300);
    expect(tally.rejected).toBeGreaterThan(1500);
    expect(tally.slowestMs).toBeLessThan(1000);
  }, 120_000);

  it('1500 mutations of a mixed-dtype file (through file descriptors)', async () => {
    const rng = makeRng(7);
    const src = join(dir, 'mixed.safetensors');
    await writeSafetensors(src, ST_DTYPES.map((dtype, k) => ({
      name: `layer.${k}.${dtype.toLowerCase()}`, dtype, shape: [k % 3 + 1, 4],
      data: Uint8Array.from({ length: (k % 3 + 1) * 4 * DTYPE_SIZE[dtype] }, () => rng.int(256)),
    })), { format: 'pt' });
    const base = splitFile(new Uint8Array(readFileSync(src)));
    const tally: Tally = { opened: 0, rejected: 0, slowestMs: 0, messages: new Map() };
    const path = join(dir, 'case.safetensors');
    for (let i = 0; i < 1500; i++) {
      if (i % 100 === 0) await new Promise(setImmediate);
      const { bytes, desc } = mutate(rng, base);
      writeFileSync(path, bytes);
      runCase(path, bytes, () => openSafetensors(path), tally, `case ${i} (${desc})`);
    }
    report('mixed dtypes', tally);
    expect(tally.opened).toBeGreaterThan(150);
    expect(tally.rejected).toBeGreaterThan(750);
    expect(tally.slowestMs).toBeLessThan(1000);
  }, 120_000);
});
