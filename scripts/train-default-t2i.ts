// Trains (or resumes) inkflow's bundled tiny tag-conditioned text-to-image model and exports it to
// models/default/t2i/ (a diffusers folder `inkflow generate` opens like any SD1 model). Everything
// follows from the seed: the dataset (synthetic characters with tag captions, held-out colour
// combinations never drawn), the initial weights and the batches; a stopped run resumes from its newest
// checkpoint with the same loss curve. Run it in the background:
//   nohup nice -n 5 npx tsx scripts/train-default-t2i.ts --steps 4000 > .scratch/t2i.log 2>&1 &
// Export the newest checkpoint (EMA weights) without training further:
//   npx tsx scripts/train-default-t2i.ts --export-only
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadVae } from '../src/models/vae/loadVae.ts';
import { resolveComponent } from '../src/models/modelFolder.ts';
import { tagTokenizer, tagVocab } from '../src/models/tokenizer/tagTokenizer.ts';
import { captionOf, captionWords, drawTaggedCharacter, isHeldOutCombination, sampleTags, trainingCaption, createRng, type CharacterTags } from '../src/imaging/synthetic/taggedCharacter.ts';
import { imageToTensor } from '../src/train/latentCache.ts';
import { openSafetensors, writeSafetensors } from '../src/weights/safetensors.ts';
import { initialTextToImageParams, parseTagModelConfigs, TEXT_PREFIX, UNET_PREFIX, saveTagModelFolder, tagTextConfigJson, tagUNetConfigJson, textToImageTrainingGraph } from '../src/train/textToImageModel.ts';
import { compileTraining } from '../src/train/trainingGraph.ts';
import { diffusionBatch } from '../src/train/diffusionObjective.ts';
import { runTraining, readLog, type TrainLoopConfig } from '../src/train/trainLoop.ts';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.ts';
import { alphasCumprod, makeBetas } from '../src/sampling/diffusers/betas.ts';
import { loadCheckpoint as loadModel } from '../src/models/checkpoint/loadCheckpoint.ts';
import { generate } from '../src/pipelines/generate/generate.ts';
import { encodePng, type Image } from '../src/imaging/image.ts';
import { modelCard } from './t2iModelCard.ts';

const { values: args } = parseArgs({
  options: {
    run: { type: 'string', default: '.scratch/runs/default-t2i' },
    out: { type: 'string', default: 'models/default/t2i' },
    vae: { type: 'string', default: 'models/default/vae' },
    steps: { type: 'string', default: '4000' },
    batch: { type: 'string', default: '8' },
    images: { type: 'string', default: '4000' },
    lr: { type: 'string', default: '4e-4' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    'checkpoint-every': { type: 'string', default: '100' },
    'export-every': { type: 'string', default: '500' },
    'export-only': { type: 'boolean', default: false },
    /** Export the raw parameters instead of their EMA. */
    'no-ema': { type: 'boolean', default: false },
    'measure-only': { type: 'boolean', default: false },
    /** Start a new run from another run's parameters: a checkpoint's params.safetensors / ema.safetensors, or a model folder this script exported (e.g. models/default/t2i). */
    'init-from': { type: 'string' },
    /** A sentence for the model card on where --init-from's parameters came from. */
    'init-note': { type: 'string' },
    /** ε loss weight clamp(1/snr, 1, cap) on high-noise steps, where the layout (pose) is decided; 0 = off. */
    'high-noise-weight': { type: 'string', default: '0' },
  },
});

const SIZE = 128;
const runDir = args.run!;
const threads = Number(args.threads);
const batch = Number(args.batch);
const seed = Number(args.seed);
mkdirSync(runDir, { recursive: true });

const vocab = tagVocab(captionWords());
const tokenizer = tagTokenizer(vocab);
const vaeFiles = resolveComponent(args.vae!, { subfolder: 'vae', weightNames: ['diffusion_pytorch_model.safetensors'], what: 'VAE' });
const vaeConfig = JSON.parse(readFileSync(vaeFiles.configPath!, 'utf8')) as { latent_channels: number; block_out_channels: number[] };
const vaeId = createHash('sha256').update(readFileSync(vaeFiles.weightsPath)).update(readFileSync(vaeFiles.configPath!)).digest('hex').slice(0, 16);
const latentSide = SIZE / 2 ** (vaeConfig.block_out_channels.length - 1);
const textJson = tagTextConfigJson(vocab.tokens.length, tokenizer.eosId);
const unetJson = tagUNetConfigJson(vaeConfig.latent_channels, textJson.hidden_size as number);
const configs = parseTagModelConfigs(unetJson, textJson);

interface Dataset {
  tags: CharacterTags[];
  /** Raw posterior means [N, c, s, s] (not yet scaled). */
  latents: Float32Array;
  scalingFactor: number;
}

/** The training set: the first `count` seeds whose colour triple is not held out, rendered and encoded once. */
async function dataset(count: number): Promise<Dataset> {
  const file = join(runDir, `dataset-${vaeId}-${count}.safetensors`);
  const tagsFile = join(runDir, `dataset-${vaeId}-${count}.json`);
  if (existsSync(file) && existsSync(tagsFile)) {
    const r = openSafetensors(file);
    const latents = r.readF32('latents');
    r.close();
    const meta = JSON.parse(readFileSync(tagsFile, 'utf8')) as { tags: CharacterTags[]; scalingFactor: number };
    return { tags: meta.tags, latents, scalingFactor: meta.scalingFactor };
  }
  const vae = await loadVae(args.vae!, { threads, cacheDir: false });
  const c = vaeConfig.latent_channels;
  const per = c * latentSide * latentSide;
  const latents = new Float32Array(count * per);
  const tags: CharacterTags[] = [];
  const chunk = 16;
  let s = 0;
  const t0 = Date.now();
  while (tags.length < count) {
    const imgs: Float32Array[] = [];
    while (imgs.length < chunk && tags.length + imgs.length < count) {
      const t = sampleTags(createRng(s));
      if (!isHeldOutCombination(t)) {
        const ch = drawTaggedCharacter(s, SIZE, t);
        imgs.push(imageToTensor(ch.image));
        tags.push(t);
      }
      s++;
    }
    const input = new Float32Array(imgs.length * 3 * SIZE * SIZE);
    imgs.forEach((a, i) => input.set(a, i * a.length));
    const enc = await vae.encode({ shape: [imgs.length, 3, SIZE, SIZE], data: input });
    latents.set(enc.mean.data, (tags.length - imgs.length) * per);
    if (tags.length % 512 === 0) console.log(`${new Date().toISOString()} encoded ${tags.length}/${count} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  await vae.release();
  let mean = 0;
  for (const v of latents) mean += v;
  mean /= latents.length;
  let vs = 0;
  for (const v of latents) vs += (v - mean) ** 2;
  const scalingFactor = Number((1 / Math.sqrt(vs / latents.length)).toPrecision(5));
  await writeSafetensors(file, [{ name: 'latents', dtype: 'F32', shape: [count, c, latentSide, latentSide], data: latents }]);
  writeFileSync(tagsFile, JSON.stringify({ tags, scalingFactor, latentMean: mean, lastSeed: s - 1 }));
  return { tags, latents, scalingFactor };
}

const loop: TrainLoopConfig = {
  steps: Number(args.steps), optimizer: { name: 'adamw', weightDecay: 0.01 }, lr: Number(args.lr), schedule: 'constant_with_warmup',
  warmupSteps: 200, clipGradNorm: 1, emaDecay: 0.999, checkpointEvery: Number(args['checkpoint-every']), keepCheckpoints: 2, seed,
};
const highNoiseWeightCap = Number(args['high-noise-weight']);
const objective = { prediction: 'eps' as const, minSnrGamma: 5, noiseOffset: 0.05, ...(highNoiseWeightCap > 0 ? { highNoiseWeightCap } : {}) };
const CAPTION_DROPOUT = 0.1;
const SHUFFLE = 0.5;

async function train(): Promise<void> {
  const data = await dataset(Number(args.images));
  const n = data.tags.length;
  const per = data.latents.length / n;
  const c = vaeConfig.latent_channels;
  const abar = alphasCumprod(makeBetas({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000, trained_betas: null }));
  const graph = textToImageTrainingGraph(configs, batch, latentSide, latentSide);
  const init = initialTextToImageParams(graph, seed);
  const trainable = Object.keys(init.shapes);
  console.log(`${trainable.length} tensors, ${Object.values(init.params).reduce((s, a) => s + a.length, 0)} parameters; latents ${c}×${latentSide}², batch ${batch}, scaling ${data.scalingFactor}`);
  const model = await compileTraining(graph, 'loss', trainable, { get: () => undefined, keys: () => [], fingerprint: () => 'none' }, { threads, cacheDir: false });
  const t0 = Date.now();
  const wallFile = join(runDir, 'wall.json');
  const wallBefore = existsSync(wallFile) ? (JSON.parse(readFileSync(wallFile, 'utf8')) as { seconds: number }).seconds : 0;
  await runTraining(runDir, loop, {
    shapes: init.shapes,
    initialParams: () => (args['init-from'] ? warmStart(args['init-from'], init.shapes) : init.params),
    async microStep(params, rng) {
      const x0 = new Float32Array(batch * per);
      const ids = new BigInt64Array(batch * 77);
      for (let b = 0; b < batch; b++) {
        const i = rng.below(n);
        for (let k = 0; k < per; k++) x0[b * per + k] = data.latents[i * per + k] * data.scalingFactor;
        const caption = rng.uniform() < CAPTION_DROPOUT ? '' : trainingCaption(data.tags[i], () => rng.uniform(), SHUFFLE);
        tokenizer.tokenize77(caption).inputIds.forEach((t, j) => { ids[b * 77 + j] = BigInt(t); });
      }
      const d = diffusionBatch(x0, batch, c, abar, rng, objective);
      const r = await model.step(params, { input_ids: { dtype: 'i64', shape: [batch, 77], data: ids }, sample: d.noisy, timestep: d.timesteps, target: d.target, weights: d.weights });
      return { loss: r.loss, grads: r.grads };
    },
    describe: () => ({ kind: 'default-t2i', initFrom: args['init-from'] ?? null, vae: vaeId, images: n, batch, size: SIZE, unet: unetJson, text: textJson, objective, captionDropout: CAPTION_DROPOUT, shuffle: SHUFFLE }),
  }, {
    onProgress(p) {
      if (p.step % 20 === 0) console.log(`${new Date().toISOString()} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} |g| ${p.gradNorm.toFixed(3)} ${p.stepsPerSecond.toFixed(3)} it/s`);
    },
    async onCheckpoint(step) {
      writeFileSync(wallFile, JSON.stringify({ seconds: wallBefore + (Date.now() - t0) / 1000 }));
      if (step % Number(args['export-every']) === 0 || step === loop.steps) await exportModel(data.scalingFactor);
    },
  });
  await model.release();
}

/**
 * Parameters from a checkpoint's params.safetensors (or ema.safetensors), or from a model folder this script
 * exported (its unet/ and text_encoder/ files hold the same tensors without the prefixes, in fp16),
 * checked against this model's shapes.
 */
function warmStart(path: string, shapes: Record<string, number[]>): Record<string, Float32Array> {
  const files = statSync(path).isDirectory()
    ? [{ file: join(path, 'unet', 'diffusion_pytorch_model.safetensors'), prefix: UNET_PREFIX }, { file: join(path, 'text_encoder', 'model.safetensors'), prefix: TEXT_PREFIX }]
    : [{ file: path, prefix: '' }];
  const out: Record<string, Float32Array> = {};
  for (const { file, prefix } of files) {
    const r = openSafetensors(file);
    try {
      for (const [name, shape] of Object.entries(shapes)) {
        if (!name.startsWith(prefix)) continue;
        const key = name.slice(prefix.length);
        const info = r.has(key) ? r.info(key) : undefined;
        if (!info || info.shape.join('x') !== shape.join('x')) throw new Error(`${file}: ${key} is missing or has another shape — not a run of this model`);
        out[name] = r.readF32(key);
      }
    } finally {
      r.close();
    }
  }
  const missing = Object.keys(shapes).filter((n) => !out[n]);
  if (missing.length) throw new Error(`${path}: no values for ${missing.length} parameters (e.g. ${missing[0]})`);
  console.log(`initial parameters from ${path}`);
  return out;
}

const SAMPLE_PROMPTS = [
  'red hair, blue shirt, green pants, short hair, arms up',
  'yellow hair, purple shirt, gray skirt, long hair, arms down',
  'blue hair, orange shirt, brown pants, short hair, arms out',
  'pink hair, green shirt, cyan skirt, long hair, arms up',
];

async function exportModel(scalingFactor?: number): Promise<void> {
  const root = join(runDir, 'checkpoints');
  const steps = listCheckpoints(root);
  if (!steps.length) throw new Error(`${runDir} has no checkpoint to export`);
  const step = steps[steps.length - 1];
  const ck = loadCheckpoint(root, step);
  const params = (args['no-ema'] ? undefined : ck.ema?.shadow) ?? ck.params;
  const shapes = initialTextToImageParams(textToImageTrainingGraph(configs, 1, latentSide, latentSide), 0).shapes;
  const scaling = scalingFactor ?? (await dataset(Number(args.images))).scalingFactor;
  const log = readLog(runDir);
  const last = log.slice(-100);
  const wall = existsSync(join(runDir, 'wall.json')) ? (JSON.parse(readFileSync(join(runDir, 'wall.json'), 'utf8')) as { seconds: number }).seconds : undefined;
  const card = modelCard({
    step, batch, images: Number(args.images), seed, lr: loop.lr, scaling, vaeId, wallSeconds: wall, initNote: args['init-note'],
    highNoiseWeight: highNoiseWeightCap > 0 ? highNoiseWeightCap : undefined, runDir,
    meanLoss: last.reduce((s, l) => s + l.loss, 0) / Math.max(1, last.length),
    params: Object.values(params).reduce((s, a) => s + a.length, 0), unet: unetJson, text: textJson, vocabSize: vocab.tokens.length,
  });
  await saveTagModelFolder(args.out!, params, shapes, { unetConfig: unetJson, textConfig: textJson, vocab, vaeDir: args.vae!, scalingFactor: scaling, card });
  // Samples through the normal generation path, as `inkflow generate` renders them.
  const m = loadModel(args.out!, { threads, cacheDir: false });
  const rows: Image[] = [];
  for (const prompt of SAMPLE_PROMPTS) {
    const r = await generate(m, { prompt, seed: 7, width: SIZE, height: SIZE, steps: 20, cfg: 5, batch: 1 });
    rows.push(r.images[0]);
  }
  await m.release();
  writeFileSync(join(runDir, `samples-${String(step).padStart(6, '0')}.png`), await encodePng(gridOf(rows)));
  console.log(`exported step ${step} to ${args.out}`);
}

function gridOf(images: Image[]): Image {
  const w = images[0].width;
  const h = images[0].height;
  const out: Image = { width: w * images.length, height: h, channels: 3, data: new Uint8Array(w * images.length * h * 3) };
  images.forEach((img, k) => {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out.data[(y * out.width + k * w + x) * 3 + c] = img.data[(y * w + x) * img.channels + c];
  });
  return out;
}

async function measure(): Promise<void> {
  const graph = textToImageTrainingGraph(configs, batch, latentSide, latentSide);
  const init = initialTextToImageParams(graph, seed);
  const model = await compileTraining(graph, 'loss', Object.keys(init.shapes), { get: () => undefined, keys: () => [], fingerprint: () => 'none' }, { threads, cacheDir: false });
  const feeds = {
    input_ids: { dtype: 'i64' as const, shape: [batch, 77], data: new BigInt64Array(batch * 77).fill(1n) },
    sample: new Float32Array(batch * vaeConfig.latent_channels * latentSide * latentSide).fill(0.1),
    timestep: new Float32Array(batch).fill(500),
    target: new Float32Array(batch * vaeConfig.latent_channels * latentSide * latentSide).fill(0.2),
    weights: new Float32Array(batch).fill(1),
  };
  await model.step(init.params, feeds);
  const t = performance.now();
  for (let i = 0; i < 5; i++) await model.step(init.params, feeds);
  console.log(`batch ${batch} at ${latentSide}²: ${((performance.now() - t) / 5).toFixed(0)} ms per micro-step; ${Object.values(init.params).reduce((s, a) => s + a.length, 0)} parameters`);
  await model.release();
  console.log(captionOf(sampleTags(createRng(0))));
}

if (args['measure-only']) await measure();
else if (args['export-only']) await exportModel();
else await train();
