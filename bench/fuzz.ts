// `npm run bench -- fuzz`: the broad input fuzz (issue 13). 100,000+ seeded safetensors cases — byte
// flips, JSON edits, lying lengths, truncations — across three files and two read paths, plus, for the
// LDM UNet file, the loader on top (config inference, key mapping, every weight checked against the
// graph's declaration as the compiler would); and 20,000 PNG/JPEG cases. Every case must open
// correctly or fail with a clear error class; a crash would end the run, a hang shows as the slowest
// case, memory as the peak RSS. INKFLOW_FUZZ_SCALE=0.1 runs a tenth.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GraphError } from '../src/graph/graph.ts';
import { requireParam } from '../src/graph/weights.ts';
import { decodeImage, ImageError } from '../src/imaging/image.ts';
import { fuzzRandom, fuzzSeeds, lyingJpeg, lyingPng, mutate as mutateImage } from '../src/imaging/imageInputFuzz.ts';
import { ImageLimitError } from '../src/imaging/limits.ts';
import { downsampleFactor, UNetConfigError, type UNetConfig } from '../src/models/unet/config.ts';
import { inferLdmUNetConfig } from '../src/models/unet/ldmConfig.ts';
import { buildUNetGraph, UNetLoadError, unetWeights } from '../src/models/unet/load.ts';
import { DTYPE_SIZE, ST_DTYPES } from '../src/weights/dtype.ts';
import { openSafetensors, openSafetensorsBuffer, SafetensorsError, writeSafetensors, type SafetensorsReader } from '../src/weights/safetensors.ts';
import { makeRng, mutate, report, runCase, splitFile, type Tally } from '../src/weights/safetensorsFuzz.ts';

const golden = resolve(import.meta.dirname, '..', process.env.INKFLOW_GOLDEN ?? '../shared/golden');
const scale = Number(process.env.INKFLOW_FUZZ_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * scale));

let peakRss = 0;
const sampleRss = () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); };
const newTally = (): Tally => ({ opened: 0, rejected: 0, slowestMs: 0, messages: new Map() });

async function readerSuite(name: string, base: Uint8Array, cases: number, seed: number, open: (bytes: Uint8Array, i: number) => [string, () => SafetensorsReader]): Promise<Tally> {
  const parsed = splitFile(base);
  const rng = makeRng(seed);
  const tally = newTally();
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const { bytes, desc } = mutate(rng, parsed);
    const [label, opener] = open(bytes, i);
    runCase(label, bytes, opener, tally, `${name} case ${i} (${desc})`);
    if (i % 1000 === 0) {
      sampleRss();
      await new Promise(setImmediate);
    }
    if (i > 0 && i % 10000 === 0) console.log(`[fuzz] ${name}: ${i}/${cases} after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  report(`${name} (${cases} cases, ${((performance.now() - t0) / 1000).toFixed(1)} s)`, tally);
  return tally;
}

/** The UNet loader on a mutated LDM file: config inferred, every weight read and checked against the graph. */
function loadUNetWeights(reader: SafetensorsReader, graphs: Map<string, string[][]>): void {
  const config: UNetConfig = inferLdmUNetConfig(reader);
  const key = JSON.stringify(config);
  let params = graphs.get(key);
  if (!params) {
    const m = downsampleFactor(config);
    const g = buildUNetGraph(config, { batch: 1, height: m, width: m, seqLen: 1 });
    params = [...g.params].map(([name, id]) => [name, JSON.stringify(g.values[id].shape)]);
    graphs.set(key, params);
  }
  const { store } = unetWeights(reader, config);
  for (const [name, shape] of params) requireParam(store, name, 'f32', JSON.parse(shape));
}

const CLEAR_LOADER_ERRORS = [SafetensorsError, UNetConfigError, UNetLoadError, GraphError];

async function loaderSuite(base: Uint8Array, cases: number, seed: number): Promise<{ loaded: number; clear: number; slowestMs: number }> {
  const parsed = splitFile(base);
  const rng = makeRng(seed);
  const graphs = new Map<string, string[][]>();
  const out = { loaded: 0, clear: 0, slowestMs: 0 };
  const messages = new Map<string, number>();
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const { bytes, desc } = mutate(rng, parsed);
    const c0 = performance.now();
    let reader: SafetensorsReader | undefined;
    try {
      reader = openSafetensorsBuffer(bytes, 'ldm_unet.safetensors');
      loadUNetWeights(reader, graphs);
      out.loaded++;
    } catch (e) {
      if (!CLEAR_LOADER_ERRORS.some((c) => e instanceof c)) throw new Error(`loader case ${i} (${desc}): unclear ${(e as Error)?.name}: ${(e as Error)?.message}`);
      out.clear++;
      const k = `${(e as Error).name}: ${(e as Error).message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 60)}`;
      messages.set(k, (messages.get(k) ?? 0) + 1);
    } finally {
      reader?.close();
    }
    out.slowestMs = Math.max(out.slowestMs, performance.now() - c0);
    if (i % 1000 === 0) {
      sampleRss();
      await new Promise(setImmediate);
    }
  }
  const top = [...messages].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([m, k]) => `  ${k}× ${m}`).join('\n');
  console.log(`[fuzz] UNet loader on ldm_unet (${cases} cases, ${((performance.now() - t0) / 1000).toFixed(1)} s): ${out.loaded} loaded every weight, ${out.clear} clear errors, slowest ${out.slowestMs.toFixed(1)} ms\n${top}`);
  return out;
}

async function imageSuite(cases: number): Promise<{ decoded: number; clear: number; slowestMs: number }> {
  const seeds = await fuzzSeeds();
  const rand = fuzzRandom(0xfeed);
  const out = { decoded: 0, clear: 0, slowestMs: 0 };
  const t0 = performance.now();
  const inputs = (i: number): [string, Buffer] => {
    if (i % 50 === 0) {
      const w = 1 + Math.floor(rand() * 65535);
      const h = 1 + Math.floor(rand() * 65535);
      return i % 100 === 0 ? [`png ${w}×${h}`, lyingPng(w, h, Math.min(h, 8))] : [`jpeg ${w}×${h}`, lyingJpeg(seeds.jpeg, w, h)];
    }
    return i % 2 ? [`png#${i}`, mutateImage(seeds.png, rand)] : [`jpeg#${i}`, mutateImage(seeds.jpeg, rand)];
  };
  for (let i = 0; i < cases; i++) {
    const [label, bytes] = inputs(i);
    const c0 = performance.now();
    try {
      const img = await decodeImage(bytes, 3, label);
      if (img.data.length !== img.width * img.height * 3) throw new Error(`${label}: decoded buffer does not match its size`);
      out.decoded++;
    } catch (e) {
      if (!(e instanceof ImageError || e instanceof ImageLimitError)) throw new Error(`${label}: unclear ${(e as Error)?.name}: ${(e as Error)?.message}`);
      out.clear++;
    }
    out.slowestMs = Math.max(out.slowestMs, performance.now() - c0);
    if (i % 1000 === 0) sampleRss();
  }
  console.log(`[fuzz] PNG/JPEG (${cases} cases, ${((performance.now() - t0) / 1000).toFixed(1)} s): ${out.decoded} decoded, ${out.clear} clear errors, slowest ${out.slowestMs.toFixed(1)} ms`);
  return out;
}

export async function runFuzzBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'inkflow-fuzzbench-'));
  try {
    const rng = makeRng(99);
    const mixedPath = join(dir, 'mixed.safetensors');
    await writeSafetensors(mixedPath, ST_DTYPES.map((dtype, k) => ({
      name: `layer.${k}.${dtype.toLowerCase()}`, dtype, shape: [(k % 3) + 1, 4],
      data: Uint8Array.from({ length: ((k % 3) + 1) * 4 * DTYPE_SIZE[dtype] }, () => rng.int(256)),
    })), { format: 'pt' });
    const mixed = new Uint8Array(readFileSync(mixedPath));
    const unet = new Uint8Array(readFileSync(join(golden, 'models/unet_tiny/weights.safetensors')));
    const ldm = new Uint8Array(readFileSync(join(golden, 'models/unet_tiny/ldm_unet.safetensors')));
    const casePath = join(dir, 'case.safetensors');
    const t0 = performance.now();

    const suites = [
      await readerSuite('mixed dtypes, in memory', mixed, n(60_000), 1, (b) => ['mixed.safetensors', () => openSafetensorsBuffer(b, 'mixed.safetensors')]),
      await readerSuite('mixed dtypes, through files', mixed, n(10_000), 2, (b) => {
        writeFileSync(casePath, b);
        return [casePath, () => openSafetensors(casePath)];
      }),
      await readerSuite('unet_tiny, in memory', unet, n(20_000), 3, (b) => ['unet_tiny.safetensors', () => openSafetensorsBuffer(b, 'unet_tiny.safetensors')]),
    ];
    const loader = await loaderSuite(ldm, n(10_000), 4);
    const images = await imageSuite(n(20_000));

    const opened = suites.reduce((a, t) => a + t.opened, 0);
    const rejected = suites.reduce((a, t) => a + t.rejected, 0);
    const slowest = Math.max(...suites.map((t) => t.slowestMs), loader.slowestMs);
    console.log(`[fuzz] safetensors total: ${opened + rejected + loader.loaded + loader.clear} cases — ${opened} opened + ${loader.loaded} loaded every UNet weight; ${rejected + loader.clear} clear errors; 0 crashes, 0 unclear errors; slowest case ${slowest.toFixed(1)} ms`);
    console.log(`[fuzz] images total: ${images.decoded + images.clear} cases — ${images.decoded} decoded, ${images.clear} clear errors; slowest ${images.slowestMs.toFixed(1)} ms`);
    console.log(`[fuzz] peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB; wall ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
