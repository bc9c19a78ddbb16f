// `npm run bench -- colorize`: SDRO colouring as a user waits for it — 512² blueprint, CLIP ViT-L/14 vision
// encoder (257 tokens), SD2.1-sized SDRO UNet (blueprint embedding, cross-attention 1024, v-prediction),
// 20 UniPC steps (leading spacing, the released scheduler config), VAE decode — on fan-in-scaled random
// weights (bench/fanInWeights.ts), in four modes: fp32, int8 (encoder, UNet, VAE quantised), step
// caching (full UNet every 3 steps + first/last; shallow steps cut where colouring does,
// sdroCachedUpLayers) and int8 + caching. Each mode runs in its own process
// (so its peak RSS is its own) and writes its latents, image and encoder/VAE outputs; the parent reports
// times split into image encoder / UNet steps / VAE, ratios to fp32 and to the roof, and the error each
// mode adds vs fp32 (latent relative L2, image PSNR). Compilation is reported apart (a cold start).
// Heavy (≈ 5 GB, several minutes per mode): run under `flock /tmp/inkflow-heavy.lock`.
// INKFLOW_BENCH_STEP_BUDGET_S (default 480) caps each mode's denoising loop: when the steps measured so far
// predict a longer loop, the remaining steps are not run and the UNet time is extrapolated from the
// measured full/shallow step times (said in the output; errors are then not reported for that mode).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphFlops } from '../src/graph/flops.ts';
import type { Precision } from '../src/graph/int8Lowering.ts';
import { compile, type CompiledModel } from '../src/runtime/session.ts';
import { parseUNetConfig } from '../src/models/unet/config.ts';
import { buildUNetGraph } from '../src/models/unet/load.ts';
import { parseVaeConfig } from '../src/models/vae/config.ts';
import { vaeDecodeGraph } from '../src/models/vae/decoder.ts';
import { vaeModel } from '../src/models/vae/loadVae.ts';
import { parseClipVisionConfig } from '../src/models/clip/config.ts';
import { clipVisionEncoder, clipVisionGraph } from '../src/models/clip/visionEncoder.ts';
import { fromConfig } from '../src/sampling/diffusers/index.ts';
import { cachedModel, fullStepSchedule } from '../src/sampling/stepCache.ts';
import { sdroCachedUpLayers } from '../src/pipelines/colorize/sdro.ts';
import { decodedToImage } from '../src/pipelines/colorize/decodedImage.ts';
import { latentToRgb } from '../src/pipelines/preview/latentRgb.ts';
import { psnr } from '../src/imaging/metrics.ts';
import { machineRoof } from './roof.ts';
import { fanInWeights, gaussian, relativeError } from './fanInWeights.ts';

const FIXTURE = join(import.meta.dirname, '../src/pipelines/colorize/fixtures/sdro_real_config');
const readJson = (p: string) => JSON.parse(readFileSync(join(FIXTURE, p), 'utf8')) as Record<string, unknown>;
// INKFLOW_BENCH_REDUCED=1: the same architectures with channels /5 (UNet), /4 (VAE, CLIP width 256) at 256²:
// small enough to run without the heavy lock, for the error columns when the full-size run cannot finish.
const REDUCED = process.env.INKFLOW_BENCH_REDUCED === '1';
const SIZE = Number(process.env.INKFLOW_BENCH_SIZE ?? (REDUCED ? 256 : 512));
const STEPS = Number(process.env.INKFLOW_BENCH_STEPS ?? 20);
const CACHE_INTERVAL = Number(process.env.INKFLOW_BENCH_CACHE_INTERVAL ?? 3);
const BUDGET_S = Number(process.env.INKFLOW_BENCH_STEP_BUDGET_S ?? 480);
// INKFLOW_BENCH_CACHED_UP_LAYERS: where the cached modes cut the UNet (default: colouring's, sdroCachedUpLayers).
const CACHED_UP_LAYERS = process.env.INKFLOW_BENCH_CACHED_UP_LAYERS === undefined ? undefined : Number(process.env.INKFLOW_BENCH_CACHED_UP_LAYERS);

interface Mode { name: string; precision: Precision; cacheSteps: number }
const MODES: Mode[] = [
  { name: 'fp32', precision: 'fp32', cacheSteps: 1 },
  { name: 'int8', precision: 'int8', cacheSteps: 1 },
  { name: `cached/${CACHE_INTERVAL}`, precision: 'fp32', cacheSteps: CACHE_INTERVAL },
  { name: `int8+cached/${CACHE_INTERVAL}`, precision: 'int8', cacheSteps: CACHE_INTERVAL },
];

interface ModeResult {
  mode: string;
  compileS: number;
  encoderMs: number;
  unetMs: number;
  fullStepMs: number;
  shallowStepMs: number;
  full: number;
  shallow: number;
  stepsRun: number;
  extrapolated: boolean;
  vaeMs: number;
  /** From the start of the encoder to the first step's latent→RGB preview (what a user first sees). */
  firstPreviewMs: number;
  peakMB: number;
  load: number[];
}

function configs() {
  const unetJson = readJson('unet/config.json');
  const vaeJson = readJson('vae/config.json');
  const visionJson = readJson('image_encoder/config.json');
  if (REDUCED) {
    Object.assign(unetJson, { block_out_channels: [64, 128, 256, 256], attention_head_dim: [1, 2, 4, 4], cross_attention_dim: 256 });
    Object.assign(vaeJson, { block_out_channels: [32, 64, 128, 128] });
    Object.assign(visionJson, { hidden_size: 256, intermediate_size: 1024, num_attention_heads: 4 });
  }
  return { unet: parseUNetConfig(unetJson), vae: parseVaeConfig(vaeJson), vision: parseClipVisionConfig(visionJson) };
}

async function runMode(mode: Mode, outDir: string): Promise<ModeResult> {
  const { unet: unetConfig, vae: vaeConfig, vision } = configs();
  const cacheDir = mkdtempSync(join(outDir, 'cache-'));
  const compileOpts = { cacheDir, ...(mode.precision === 'int8' ? { precision: mode.precision } : {}) };
  const h = SIZE / 8;
  const tokens = (vision.image_size / vision.patch_size) ** 2 + 1;
  const shape = { batch: 1, height: h, width: h, seqLen: tokens };
  const cached = mode.cacheSteps > 1;
  const split = CACHED_UP_LAYERS ?? sdroCachedUpLayers(unetConfig);
  const fullGraph = buildUNetGraph(unetConfig, shape, cached ? { deepCache: 'produce', cachedUpLayers: split } : {});
  const weightsGraph = cached ? buildUNetGraph(unetConfig, shape) : fullGraph;
  const unetWeights = fanInWeights(weightsGraph, 1);
  const encoderStore = fanInWeights(clipVisionGraph(vision, { batch: 1 }), 2);
  const vaeStore = fanInWeights(vaeDecodeGraph(vaeConfig, [1, 4, 8, 8]), 3);

  // Compile everything first (a cold start), then time the warm pipeline.
  const t0 = performance.now();
  const encoder = clipVisionEncoder(vision, encoderStore, compileOpts);
  const vae = vaeModel(vaeConfig, vaeStore, compileOpts);
  const pixels = { shape: [1, 3, vision.image_size, vision.image_size], data: gaussian(3 * vision.image_size ** 2, 11) };
  await encoder.encode(pixels);
  const full: CompiledModel = await compile(fullGraph, unetWeights, compileOpts);
  const shallow: CompiledModel | undefined = cached ? await compile(buildUNetGraph(unetConfig, shape, { deepCache: 'consume', cachedUpLayers: split }), unetWeights, compileOpts) : undefined;
  const latentShape = [1, 4, h, h];
  await vae.decode({ shape: latentShape, data: new Float32Array(4 * h * h) });
  const compileS = (performance.now() - t0) / 1000;

  const e0 = performance.now();
  const context = (await encoder.encode(pixels)).last_hidden_state.data;
  const encoderMs = performance.now() - e0;
  // A blueprint of thin white lines on black, as blueprintToTensor gives (x/255 in [0,1]).
  const blueprint = new Float32Array(3 * SIZE * SIZE);
  for (let c = 0; c < 3; c++) for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
    const on = (x + 2 * y) % 37 < 2 || ((x - SIZE / 2) ** 2 + (y - SIZE / 2) ** 2) % 4000 < 60;
    blueprint[(c * SIZE + y) * SIZE + x] = on ? 1 : 0;
  }
  const scheduler = fromConfig('UniPCMultistepScheduler', readJson('scheduler/scheduler_config.json'));
  scheduler.setTimesteps(STEPS);
  let latents = gaussian(4 * h * h, 7);
  type Call = { sample: Float32Array; t: number };
  const feeds = (c: Call) => ({ sample: c.sample, timestep: Float32Array.of(c.t), encoder_hidden_states: context, blueprint });
  const stepTimes = { full: [] as number[], shallow: [] as number[] };
  const model = cachedModel<Call>({
    async full(c) {
      const s = performance.now();
      const out = await full.run(feeds(c));
      stepTimes.full.push(performance.now() - s);
      return { sample: out.out_sample.data as Float32Array, deepFeatures: (out.deep_features?.data as Float32Array | undefined) ?? new Float32Array(0) };
    },
    async shallow(c, features) {
      const s = performance.now();
      const { blueprint: _, ...rest } = feeds(c); // the shallow graph has the blueprint embedding in its cached state
      const out = await shallow!.run({ ...rest, deep_features: features });
      stepTimes.shallow.push(performance.now() - s);
      return out.out_sample.data as Float32Array;
    },
  }, cached ? fullStepSchedule(STEPS, mode.cacheSteps) : []);
  const schedule = cached ? fullStepSchedule(STEPS, mode.cacheSteps) : Array(STEPS).fill(true);
  const u0 = performance.now();
  let stepsRun = 0;
  const mean = (a: number[]) => (a.length ? a.reduce((p, q) => p + q, 0) / a.length : NaN);
  const predictS = () => schedule.reduce((acc, f, i) => acc + (i < stepsRun ? 0 : f ? mean(stepTimes.full) : mean(stepTimes.shallow.length ? stepTimes.shallow : stepTimes.full)), performance.now() - u0) / 1000;
  let firstPreviewMs = NaN;
  for (const t of scheduler.timesteps) {
    const noisePred = await model.run({ sample: scheduler.scaleModelInput(latents, t), t });
    latents = scheduler.step(noisePred, t, latents).prevSample;
    stepsRun++;
    if (stepsRun === 1) {
      latentToRgb(latents, latentShape, 'sd1');
      firstPreviewMs = performance.now() - e0;
    }
    process.stderr.write(`  ${mode.name} step ${stepsRun}/${STEPS} (${schedule[stepsRun - 1] ? 'full' : 'shallow'}) ${(stepTimes.full.concat(stepTimes.shallow).at(-1)! / 1000).toFixed(2)} s, load ${loadavg()[0].toFixed(1)}\n`);
    if (stepsRun >= 3 && stepsRun < STEPS && (!cached || stepTimes.shallow.length > 0) && predictS() > BUDGET_S) break;
  }
  const extrapolated = stepsRun < STEPS;
  const unetMs = extrapolated ? predictS() * 1000 : performance.now() - u0;
  const v0 = performance.now();
  const decoded = await vae.decode({ shape: latentShape, data: latents.map((v) => v / 0.18215) });
  const vaeMs = performance.now() - v0;
  // The VAE's own error, independent of the latents: decode one fixed latent.
  const fixedDecode = await vae.decode({ shape: latentShape, data: gaussian(4 * h * h, 13).map((v) => v * 4) });
  writeFileSync(join(outDir, `${mode.name.replace('/', '_')}.json`), JSON.stringify({ extrapolated }));
  const dump = (name: string, a: Float32Array) => writeFileSync(join(outDir, `${mode.name.replace('/', '_')}.${name}.bin`), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  dump('latents', latents);
  dump('decoded', decoded.data);
  dump('context', context);
  dump('vaeFixed', fixedDecode.data);
  await full.release();
  await shallow?.release();
  await encoder.release();
  await vae.release();
  rmSync(cacheDir, { recursive: true, force: true });
  return {
    mode: mode.name, compileS, encoderMs, unetMs, fullStepMs: mean(stepTimes.full), shallowStepMs: mean(stepTimes.shallow),
    full: schedule.filter(Boolean).length, shallow: schedule.filter((f) => !f).length, stepsRun, extrapolated, vaeMs, firstPreviewMs,
    peakMB: process.resourceUsage().maxRSS / 1024, load: loadavg(),
  };
}

function flops() {
  const { unet, vae, vision } = configs();
  const tokens = (vision.image_size / vision.patch_size) ** 2 + 1;
  const shape = { batch: 1, height: SIZE / 8, width: SIZE / 8, seqLen: tokens };
  return {
    encoder: graphFlops(clipVisionGraph(vision, { batch: 1 })),
    unet: graphFlops(buildUNetGraph(unet, shape)),
    shallow: graphFlops(buildUNetGraph(unet, shape, { deepCache: 'consume', cachedUpLayers: CACHED_UP_LAYERS ?? sdroCachedUpLayers(unet) })),
    cachedUpLayers: CACHED_UP_LAYERS ?? sdroCachedUpLayers(unet),
    vae: graphFlops(vaeDecodeGraph(vae, [1, 4, SIZE / 8, SIZE / 8])),
  };
}

export async function runColorizeBench(): Promise<void> {
  // INKFLOW_BENCH_OUT keeps each mode's results in that folder, so the modes can run one per
  // invocation (one heavy-lock holding each) and the report still compares every mode present with fp32.
  const kept = process.env.INKFLOW_BENCH_OUT;
  const outDir = kept ?? mkdtempSync(join(tmpdir(), 'inkflow-bench-colorize-'));
  if (kept) mkdirSync(kept, { recursive: true });
  const resultFile = (mode: string) => join(outDir, `${mode.replace('/', '_')}.result.json`);
  try {
    const only = process.env.INKFLOW_BENCH_MODES?.split(',');
    for (const mode of MODES) {
      if (only && !only.includes(mode.name)) continue;
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), MODE_FLAG, mode.name, outDir], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`colorize bench mode ${mode.name} failed (exit ${r.status}): ${r.stdout}`);
      writeFileSync(resultFile(mode.name), r.stdout.trim().split('\n').at(-1)!);
    }
    const results = MODES.filter((m) => existsSync(resultFile(m.name))).map((m) => JSON.parse(readFileSync(resultFile(m.name), 'utf8')) as ModeResult);
    report(results, outDir, (await machineRoof()).gflops);
  } finally {
    if (!kept) rmSync(outDir, { recursive: true, force: true });
  }
}

function report(results: ModeResult[], outDir: string, roofGflops: number): void {
  const f = flops();
  const read = (mode: string, name: string) => {
    const b = readFileSync(join(outDir, `${mode.replace('/', '_')}.${name}.bin`));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const fp32 = results.find((r) => r.mode === 'fp32');
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const gf = (flop: number, ms: number) => `${(flop / ms / 1e6).toFixed(0)} GFLOPS ${((100 * flop) / ms / 1e6 / roofGflops).toFixed(0)}%roof`;
  console.log(`SDRO colouring ${SIZE}², ${STEPS} UniPC steps, ${REDUCED ? 'REDUCED-width (UNet channels /5, VAE /4, CLIP width 256)' : 'SD2.1-sized'} random weights (encoder ${(f.encoder / 1e9).toFixed(0)} GFLOP, UNet ${(f.unet / 1e9).toFixed(0)} GFLOP/step (shallow ${(f.shallow / 1e9).toFixed(0)}, cached state after ${f.cachedUpLayers} layer(s) of the last up block), VAE ${(f.vae / 1e9).toFixed(0)} GFLOP); roof ${roofGflops} GFLOPS fp32`);
  for (const r of results) {
    const total = r.encoderMs + r.unetMs + r.vaeMs;
    const unetFlop = r.full * f.unet + r.shallow * f.shallow;
    const vsFp32 = fp32 ? ` | ${((fp32.encoderMs + fp32.unetMs + fp32.vaeMs) / total).toFixed(2)}× fp32` : '';
    console.log(`${r.mode.padEnd(16)} total ${s(total)}${vsFp32} | encoder ${s(r.encoderMs)} (${gf(f.encoder, r.encoderMs)}) | UNet ${s(r.unetMs)} for ${r.full} full + ${r.shallow} shallow (full ${s(r.fullStepMs)}, shallow ${Number.isNaN(r.shallowStepMs) ? '–' : s(r.shallowStepMs)}; fp32-equivalent ${gf(STEPS * f.unet, r.unetMs)}, executed ${gf(unetFlop, r.unetMs)}) | VAE ${s(r.vaeMs)} (${gf(f.vae, r.vaeMs)}) | first preview ${s(r.firstPreviewMs)} | compile ${r.compileS.toFixed(0)} s | peak RSS ${r.peakMB.toFixed(0)} MB | load ${r.load.map((l) => l.toFixed(1)).join(' ')}${r.extrapolated ? ` | EXTRAPOLATED from ${r.stepsRun} measured steps` : ''}`);
    if (!fp32 || r === fp32) continue;
    if (r.extrapolated || fp32.extrapolated) {
      console.log(`${''.padEnd(16)} error vs fp32: not measured (a run was cut short)`);
      continue;
    }
    const img = (mode: string) => decodedToImage(read(mode, 'decoded'), [1, 3, SIZE, SIZE]);
    const err = (name: string) => (100 * relativeError(read(r.mode, name), read('fp32', name))).toFixed(2);
    console.log(`${''.padEnd(16)} error vs fp32: final latents ${err('latents')} % rel.L2, image PSNR ${psnr(img(r.mode), img('fp32')).toFixed(1)} dB | encoder output ${err('context')} % | VAE decode of a fixed latent ${err('vaeFixed')} %`);
  }
  const fastest = results.reduce((a, b) => (a.encoderMs + a.unetMs + a.vaeMs <= b.encoderMs + b.unetMs + b.vaeMs ? a : b));
  const best = fastest.encoderMs + fastest.unetMs + fastest.vaeMs;
  console.log(`goal (issue 14) SDRO colouring ${SIZE}² / ${STEPS} steps ≤ 30 s: fastest mode here ${fastest.mode} ${s(best)}${SIZE === 512 && STEPS === 20 && !REDUCED ? (best <= 30000 ? ' — met' : ' — not met') : ' (not the goal size)'}; its PSNR vs uncached on the bundled trained models: npm run bench -- bundled (INKFLOW_BENCH_CACHE_INTERVAL)`);
}

const MODE_FLAG = '--colorize-bench-mode';
if (process.argv[2] === MODE_FLAG) {
  const mode = MODES.find((m) => m.name === process.argv[3])!;
  const r = await runMode(mode, process.argv[4]);
  console.log(JSON.stringify(r));
}
