import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DTYPE_SIZE, ST_DTYPES, f32ToBf16Array, f32ToF16Array, type StDType } from './dtype.ts';
import {
  SafetensorsError, openSafetensors, openSafetensorsBuffer, writeSafetensors, type TensorToWrite,
} from './safetensors.ts';
import { PickleCheckpointError, assertNotPickle } from './pickle_guard.ts';

const projectRoot = resolve(import.meta.dirname, '../..');
const goldenRoot = resolve(projectRoot, process.env.INKFLOW_GOLDEN ?? '../shared/golden');
const unetTiny = join(goldenRoot, 'models/unet_tiny/weights.safetensors');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'inkflow-st-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** A safetensors file from a header object and a data section, bypassing our writer. */
function handMade(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors: golden unet_tiny weights', () => {
  it('reads the header: 208 tensors, 792,964 params, metadata, F32 everywhere', () => {
    const manifest = JSON.parse(readFileSync(join(goldenRoot, 'manifest.json'), 'utf8'));
    const r = openSafetensors(unetTiny);
    try {
      expect(r.tensors.size).toBe(manifest.models.unet_tiny.n_tensors);
      let params = 0;
      for (const t of r.tensors.values()) {
        expect(t.dtype).toBe('F32');
        params += t.byteLength / 4;
      }
      expect(params).toBe(manifest.models.unet_tiny.n_params);
      expect(r.metadata).toEqual({ format: 'pt', oracle: 'make_golden.py', diffusers: '0.21.0' });
      expect(r.info('conv_in.weight')).toEqual({
        name: 'conv_in.weight', dtype: 'F32', shape: [32, 4, 3, 3], byteOffset: 8 + 23136 + 128, byteLength: 4608,
      });
      // File order: every tensor starts where the previous ended (the reference writes no gaps).
      let expected = 8 + 23136;
      for (const t of r.tensors.values()) { expect(t.byteOffset).toBe(expected); expected += t.byteLength; }
    } finally {
      r.close();
    }
  });

  it('reads tensors whose bytes match sha256 and stats computed independently with numpy', () => {
    expect(sha256(readFileSync(unetTiny))).toBe(JSON.parse(readFileSync(join(goldenRoot, 'manifest.json'), 'utf8')).models.unet_tiny.weights_sha256);
    const r = openSafetensors(unetTiny);
    try {
      const cases = [
        { name: 'conv_in.weight', sha: '70b0f86df2876fc7187d1fa473410fc4435be2d2e676b8ebc0f91ba2679b9564', sum: 0.8813885787076288, maxAbs: 0.20507466793060303, first: -0.05629199370741844 },
        { name: 'mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight', sha: '21656e074fdb2928c9737fa0b32ac3cab20cd1ba7f8a1327544e1ca50cdd202a', sum: 0.5395937442892773, maxAbs: 0.174398273229599, first: -0.022090887650847435 },
        { name: 'conv_out.bias', sha: 'ae7a88287a6623c90dd3335fb793ecb87ceff66db48463befd06e7ef2b97460f', sum: -0.13465755619108677, maxAbs: 0.05560575798153877, first: -0.04721546173095703 },
      ];
      for (const c of cases) {
        expect(sha256(r.readRaw(c.name)), c.name).toBe(c.sha);
        const x = r.readF32(c.name);
        let sum = 0, maxAbs = 0;
        for (const v of x) { sum += v; maxAbs = Math.max(maxAbs, Math.abs(v)); }
        expect(Math.abs(sum - c.sum), c.name).toBeLessThan(1e-9); // same f32 values, summed in f64
        expect(maxAbs).toBe(c.maxAbs);
        expect(x[0]).toBe(c.first);
      }
    } finally {
      r.close();
    }
  });

  it('names the file and suggests similar names for a missing tensor', () => {
    const r = openSafetensors(unetTiny);
    try {
      expect(r.has('conv_in.weight')).toBe(true);
      expect(r.has('conv_in.weights')).toBe(false);
      expect(() => r.readF32('conv_in.weights')).toThrow(SafetensorsError);
      expect(() => r.info('conv_in.weights')).toThrow(
        /^no tensor "conv_in\.weights" in .*weights\.safetensors \(has 208 tensors; similar: "conv_in\.weight"/);
      expect(() => r.info('zzz')).toThrow(/has 208 tensors\)$/);
    } finally {
      r.close();
    }
    expect(() => r.readRaw('conv_in.weight')).toThrow(/reader is closed/);
  });

  it('writes a byte-identical copy of the reference file (same order, padding, metadata)', async () => {
    const r = openSafetensors(unetTiny);
    const out = join(dir, 'copy.safetensors');
    try {
      const specs: TensorToWrite[] = [...r.tensors.values()].reverse().map((t) => ({
        name: t.name, dtype: t.dtype, shape: t.shape, data: () => r.readRaw(t.name),
      }));
      await writeSafetensors(out, specs, { ...r.metadata });
    } finally {
      r.close();
    }
    expect(sha256(readFileSync(out))).toBe(sha256(readFileSync(unetTiny)));
  });
});

/** Deterministic test data for each dtype: bytes of `n` elements with interesting values. */
function sampleBytes(dtype: StDType, n: number): Uint8Array {
  const vals = Array.from({ length: n }, (_, i) => (i % 7) - 3 + i / 16);
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case 'F32': return view(Float32Array.from(vals));
    case 'F64': return view(Float64Array.from(vals));
    case 'F16': return view(f32ToF16Array(vals));
    case 'BF16': return view(f32ToBf16Array(vals));
    case 'I64': return view(BigInt64Array.from(vals, (v) => BigInt(Math.round(v * 1000))));
    case 'U64': return view(BigUint64Array.from(vals, (v) => BigInt(Math.round(Math.abs(v) * 1000))));
    default: return Uint8Array.from({ length: n * DTYPE_SIZE[dtype] }, (_, i) => (i * 37 + 11) & 0xff);
  }
}

describe('safetensors: write → read round trip', () => {
  it('round-trips every dtype, scalar and empty shapes, metadata and unicode names', async () => {
    const specs: TensorToWrite[] = ST_DTYPES.map((dtype, k) => ({ name: `t.${dtype}`, dtype, shape: [3, k + 1], data: sampleBytes(dtype, 3 * (k + 1)) }));
    specs.push({ name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([42]) });
    specs.push({ name: 'empty', dtype: 'F16', shape: [0, 5], data: new Uint16Array(0) });
    specs.push({ name: 'ünï "quoted" ✓', dtype: 'I32', shape: [2], data: new Int32Array([-1, 7]) });
    const path = join(dir, 'all.safetensors');
    await writeSafetensors(path, specs, { format: 'pt', note: 'multi\nline ✓' });

    const bytes = readFileSync(path);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    expect(headerLen % 8).toBe(0);
    expect(bytes.subarray(8, 8 + headerLen).toString('utf8')).toMatch(/^\{"__metadata__":\{"format":"pt",/);

    const r = openSafetensors(path);
    try {
      expect(r.metadata).toEqual({ format: 'pt', note: 'multi\nline ✓' });
      expect(r.tensors.size).toBe(specs.length);
      for (const s of specs) {
        const t = r.info(s.name);
        expect(t.dtype).toBe(s.dtype);
        expect(t.shape).toEqual(s.shape);
        const d = s.data as ArrayBufferView;
        expect(r.readRaw(s.name)).toEqual(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        expect(t.byteOffset % DTYPE_SIZE[t.dtype]).toBe(0); // the layout keeps every tensor aligned
      }
      expect([...r.readF32('scalar')]).toEqual([42]);
      expect(r.readF32('empty').length).toBe(0);
      const f16 = r.readF32('t.F16');
      const expected = Array.from({ length: f16.length }, (_, i) => (i % 7) - 3 + i / 16);
      expect(Math.max(...expected.map((v, i) => Math.abs(v - f16[i])))).toBeLessThan(2e-3);
      const i64 = r.readF32('t.I64');
      expect([...i64]).toEqual(Array.from({ length: i64.length }, (_, i) => Math.round(((i % 7) - 3 + i / 16) * 1000)));
    } finally {
      r.close();
    }
    // The in-memory reader sees the same thing.
    const b = openSafetensorsBuffer(new Uint8Array(bytes), 'mem');
    expect(b.readRaw('t.BF16')).toEqual(sampleBytes('BF16', 3 * (ST_DTYPES.indexOf('BF16') + 1)));
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('writes the same bytes from an async iterable in any order, one tensor in memory at a time', async () => {
    const specs: TensorToWrite[] = [
      { name: 'b', dtype: 'F16', shape: [4], data: f32ToF16Array([1, 2, 3, 4]) },
      { name: 'a', dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
      { name: 'c', dtype: 'F64', shape: [1], data: new Float64Array([0.5]) },
      { name: 'd', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    ];
    const fromList = join(dir, 'list.safetensors');
    const fromAsync = join(dir, 'async.safetensors');
    await writeSafetensors(fromList, specs);
    async function* gen() { for (const s of [...specs].reverse()) yield s; }
    await writeSafetensors(fromAsync, gen());
    expect(sha256(readFileSync(fromAsync))).toBe(sha256(readFileSync(fromList)));
    const r = openSafetensors(fromAsync);
    expect([...r.tensors.keys()]).toEqual(['c', 'a', 'b', 'd']); // 8-byte, 4-byte, 2-byte, 1-byte elements
    expect([...r.readF32('b')]).toEqual([1, 2, 3, 4]);
    r.close();
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('rejects bad tensors with a clear error and leaves no partial file', async () => {
    const path = join(dir, 'bad.safetensors');
    const bad = async (specs: TensorToWrite[], re: RegExp) => {
      await expect(writeSafetensors(path, specs)).rejects.toThrow(re);
      expect(existsSync(path) || existsSync(`${path}.partial`)).toBe(false);
    };
    await bad([{ name: 'x', dtype: 'F16', shape: [4], data: new Float32Array(4) }], /"x": F16 \[4\] needs 8 bytes, data has 16/);
    await bad([{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }, { name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }], /"x": duplicate name/);
    await bad([{ name: '__metadata__', dtype: 'F32', shape: [1], data: new Float32Array(1) }], /reserved/);
    await bad([{ name: 'x', dtype: 'F24' as StDType, shape: [1], data: new Float32Array(1) }], /unknown dtype "F24"/);
    await bad([{ name: 'x', dtype: 'F32', shape: [-1], data: new Float32Array(1) }], /shape \[-1\]/);
    await expect(writeSafetensors(path, [], { n: 3 as unknown as string })).rejects.toThrow(/metadata "n" must be a string/);
    async function* failing(): AsyncGenerator<TensorToWrite> {
      yield { name: 'ok', dtype: 'U8', shape: [1], data: new Uint8Array(1) };
      throw new Error('source failed');
    }
    await expect(writeSafetensors(path, failing())).rejects.toThrow('source failed');
    expect(readdirSync(dir).filter((f) => f.startsWith('bad'))).toEqual([]);
  });
});

describe('safetensors: invalid files', () => {
  const data16 = new Uint8Array(16);
  const ok = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /5 bytes: too short/],
    ['header length over the limit', (() => { const b = handMade(ok, data16); b[6] = 1; return b; })(), /exceeds the 100000000-byte limit/],
    ['header length past the file end', (() => { const b = handMade(ok, data16); b[0] += 100; return b; })(), /runs past the end of the/],
    ['not JSON', handMade(null, data16, '{"a": '), /header is not valid JSON/],
    ['not UTF-8', handMade(null, data16, '{"a":1}').map((v, i) => (i === 10 ? 0xff : v)), /not valid UTF-8/],
    ['array header', handMade([1, 2], data16), /header JSON is an array, expected an object/],
    ['entry not an object', handMade({ a: 5 }, data16), /tensor "a": entry is a number/],
    ['unknown dtype', handMade({ a: { ...ok.a, dtype: 'F17' } }, data16), /tensor "a": unknown dtype "F17"/],
    ['missing dtype', handMade({ a: { shape: [4], data_offsets: [0, 16] } }, data16), /tensor "a": unknown dtype undefined/],
    ['negative dim', handMade({ a: { ...ok.a, shape: [-2, -2] } }, data16), /tensor "a": shape \[-2,-2\] is not a list of non-negative integers/],
    ['fractional dim', handMade({ a: { ...ok.a, shape: [2.5] } }, data16), /shape \[2\.5\]/],
    ['string dim', handMade({ a: { ...ok.a, shape: ['4'] } }, data16), /shape \["4"\]/],
    ['offsets wrong arity', handMade({ a: { ...ok.a, data_offsets: [0] } }, data16), /data_offsets \[0\] is not \[start, end\]/],
    ['offsets not ints', handMade({ a: { ...ok.a, data_offsets: [0, 1e300] } }, data16), /data_offsets \[0,1e\+300\] is not/],
    ['end < start', handMade({ a: { ...ok.a, data_offsets: [16, 0] } }, data16), /data_offsets \[16, 0\] end before start/],
    ['size mismatch', handMade({ a: { ...ok.a, dtype: 'F16' } }, data16), /F16 \[2, 2\] needs 8 bytes but data_offsets \[0, 16\] span 16/],
    ['huge shape', handMade({ a: { ...ok.a, shape: [2 ** 40, 2 ** 40] } }, data16), /too large/],
    ['truncated data', handMade(ok, new Uint8Array(12)), /tensor "a": data_offsets \[0, 16\] run past the 12-byte data section \(file truncated\?\)/],
    ['overlap', handMade({ a: ok.a, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, data16), /tensors "a" \[0, 16\] and "b" \[8, 16\] overlap/],
    ['metadata not strings', handMade({ __metadata__: { n: 1 }, ...ok }, data16), /__metadata__\.n is a number, expected a string/],
    ['deeply nested shape (JSON.stringify would overflow the stack)', handMade(null, data16, `{"a":{"dtype":"F32","shape":${'['.repeat(20000)}${']'.repeat(20000)},"data_offsets":[0,16]}}`), /tensor "a": shape an array is not a list/],
    ['deeply nested dtype', handMade(null, data16, `{"a":{"dtype":${'['.repeat(20000)}${']'.repeat(20000)},"shape":[4],"data_offsets":[0,16]}}`), /tensor "a": unknown dtype an array/],
    ['zip pickle', Uint8Array.from([0x50, 0x4b, 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]), /PyTorch checkpoint \(zip archive.*execute arbitrary code.*safetensors\.torch import save_file/],
    ['raw pickle', Uint8Array.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]), /Python pickle/],
  ];
  for (const [label, bytes, re] of cases) {
    it(`rejects: ${label}`, () => {
      let err: unknown;
      try { openSafetensorsBuffer(bytes, 'bad.safetensors'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain('bad.safetensors');
    });
  }

  it('accepts gaps, trailing bytes, empty tensors at any offset and a header of 640 bytes (0x80 0x02 …)', () => {
    const r = openSafetensorsBuffer(handMade({
      a: { dtype: 'U8', shape: [2], data_offsets: [4, 6] }, e: { dtype: 'F32', shape: [0], data_offsets: [5, 5] },
    }, new Uint8Array([0, 0, 0, 0, 9, 8, 0, 0])));
    expect([...r.readRaw('a')]).toEqual([9, 8]);
    expect(r.readRaw('e').length).toBe(0);
    const headerWithPad = (pad: string) => JSON.stringify({ __metadata__: { pad }, a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } });
    const b = handMade(null, new Uint8Array([5]), headerWithPad('x'.repeat(640 - headerWithPad('').length)));
    expect([...b.subarray(0, 2)]).toEqual([0x80, 0x02]);
    expect([...openSafetensorsBuffer(b).readRaw('a')]).toEqual([5]);
  });

  it('explains pickle checkpoints by extension when the content is not safetensors', () => {
    expect(() => openSafetensorsBuffer(new TextEncoder().encode("(dp0\nS'a'\np1\n"), 'old.ckpt')).toThrow(/old\.ckpt is a PyTorch pickle checkpoint \(by its extension \.ckpt\)/);
    expect(() => openSafetensorsBuffer(new Uint8Array(12), 'x.safetensors')).toThrow(/header is not valid JSON/);
  });

  it('keeps a "__proto__" metadata key as plain data', () => {
    const r = openSafetensorsBuffer(handMade(null, data16, `{"__metadata__":{"__proto__":"x","a":"b"},"a":${JSON.stringify(ok.a)}}`));
    expect(Object.getOwnPropertyNames(r.metadata)).toEqual(['__proto__', 'a']);
    expect(r.metadata['__proto__']).toBe('x');
  });

  it('reports a missing file and a file truncated after open as SafetensorsError', () => {
    expect(() => openSafetensors(join(dir, 'nope.safetensors'))).toThrow(/cannot open .*nope\.safetensors/);
    const path = join(dir, 'shrinks.safetensors');
    writeFileSync(path, handMade(ok, data16));
    const r = openSafetensors(path);
    writeFileSync(path, handMade(ok, data16).subarray(0, 30));
    expect(() => r.readRaw('a')).toThrow(/unexpected end of file/);
    r.close();
  });
});

describe('assertNotPickle', () => {
  it('refuses checkpoints by content and by extension, with a conversion hint', () => {
    const zip = join(dir, 'model.safetensors'); // misnamed: content decides
    writeFileSync(zip, Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]));
    expect(() => assertNotPickle(zip)).toThrow(PickleCheckpointError);
    expect(() => assertNotPickle(zip)).toThrow(/zip archive.*can execute arbitrary code.*weights_only=True.*'model\.safetensors'/);
    const legacy = join(dir, 'model.pt');
    writeFileSync(legacy, Uint8Array.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]));
    expect(() => assertNotPickle(legacy)).toThrow(/Python pickle/);
    const proto0 = join(dir, 'old.ckpt');
    writeFileSync(proto0, '(dp0\nS\'a\'\n');
    expect(() => assertNotPickle(proto0)).toThrow(/by its extension \.ckpt/);
    expect(() => assertNotPickle(join(dir, 'absent.pth'))).toThrow(/by its extension \.pth/);
  });

  it('lets safetensors through, even when renamed', () => {
    const renamed = join(dir, 'model.bin');
    writeFileSync(renamed, handMade({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)));
    expect(() => assertNotPickle(renamed)).not.toThrow();
    expect(() => assertNotPickle(join(dir, 'absent.safetensors'))).not.toThrow();
    if (existsSync(unetTiny)) expect(() => assertNotPickle(unetTiny)).not.toThrow();
  });
});
