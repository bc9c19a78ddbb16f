// `inkflow generate`: txt2img / img2img / inpainting / ControlNet / T2I-Adapter from the command line, with ComfyUI's
// sampler and scheduler names and seeds. Every setting goes into the PNG (tEXt `prompt` = ComfyUI API
// prompt, `inkflow` = the exact record), and `--from image.png` regenerates from it.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { decodeImage, insertPngText, readPngText } from '../../imaging/image.ts';
import { readImageBytes } from '../../imaging/limits.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../../sampling/comfy/ksampler.ts';
import { sketchFidelity } from '../../pipelines/generate/controlNet.ts';
import { GENERATE_DEFAULTS as D } from '../../pipelines/generate/defaults.ts';
import { parsePrompt, promptLoras } from '../../pipelines/generate/conditioning.ts';
import { resolveLoraPath } from '../../models/checkpoint/loras.ts';
import { isSdxlCheckpoint } from '../../models/checkpoint/sdxlCheckpoint.ts';
import { assertControlNetFamily, sdxlTextRecord } from './generateSdxlOptions.ts';
import { DEFAULT_T2I_SIZE, defaultTextToImagePath, hasDefaultTextToImage } from '../../models/defaultTextToImage.ts';
import { fromComfyPrompt, toComfyPrompt, type GenerationRecord } from '../../pipelines/generate/comfyPrompt.ts';
import { dataFolderEnv } from '../../workflow/dataFolder.ts';
import { fastModeNotes, MAX_CACHE_INTERVAL, PRECISIONS } from '../../pipelines/colorize/fastModes.ts';
import { type Command, UsageError } from '../command.ts';
import { parseGenerationRecord } from '../generationRecord.ts';
import { checkNodeOption } from '../nodeOptions.ts';
import { collectLoraReport, runCliWorkflow } from '../runWorkflow.ts';
import { formatLoraReport } from '../loraReport.ts';
import { parseOptions, parseSeed } from '../options.ts';
import { numberedOutputs, planOutputs, writeOutputs } from '../outputPlan.ts';

const HELP = `usage: inkflow generate [--model PATH] --prompt TEXT [options] -o OUT.png
       inkflow generate --from IMAGE.png [overrides] -o OUT.png

Generates images with a Stable Diffusion 1.x/2.x or SDXL checkpoint (diffusers folder or single
.safetensors), seed-compatible with ComfyUI's KSampler. SDXL: default size 1024×1024, both text towers,
ComfyUI's default micro-conditioning (original = target = image size, crop 0) unless given; no --clip-skip yet.

model and prompt:
  --model PATH            checkpoint: diffusers folder or LDM .safetensors (.ckpt is refused); without it,
                          inkflow's bundled tiny tag model (models/default/t2i, 128×128, prompts like
                          "red hair, blue shirt, green pants, arms up")
  --prompt TEXT           prompt; (word:1.3) weights, [word], <lora:name:w>, embedding:name
  --negative TEXT         negative prompt (default empty)
  --lora FILE[:W[:WCLIP]] apply a LoRA (repeatable); W = model strength, WCLIP = text strength
  --loras DIR             folder for <lora:name> tags (repeatable)
  --embeddings DIR        folder for embedding:name (repeatable)
  --clip-skip N           1 = last CLIP layer (default), 2 = penultimate, …
  --prediction eps|v      override the detected prediction type
  --tokenizer DIR         CLIP vocab.json + merges.txt (single files carry none)

SDXL (CLIPTextEncodeSDXL / CLIPTextEncodeSDXLRefiner):
  --prompt-l TEXT         the CLIP ViT-L prompt (text_l); --prompt goes to OpenCLIP bigG (text_g)
  --negative-l TEXT       the ViT-L negative prompt (default: --negative)
  --original-size WxH     micro-conditioning original size (default: the image size)
  --crop-top-left X,Y     micro-conditioning crop (default 0,0; base models)
  --target-size WxH       micro-conditioning target size (default: the image size; base models)
  --aesthetic-score X     refiner: the positive prompt's score (default 6; the negative's 2.5)
  --negative-aesthetic-score X  refiner: the negative prompt's score (default 2.5)

sampling:
  --steps N               default 20
  --cfg X                 default 8
  --sampler NAME          default dpmpp_2m; one of:
                            ${COMFY_SAMPLERS.join(', ')}
  --scheduler NAME        default karras; one of:
                            ${COMFY_SCHEDULERS.join(', ')}
  --seed N                0 … 2^64−1 (default random; printed and stored in the PNG)
  --width W --height H    default 512×512, SDXL 1024×1024 (multiples of 8)
  -n, --batch N           candidates per call (one batch, one seed, as ComfyUI's batch_size)

img2img and inpainting:
  --init IMAGE            start from this image
  --denoise X             0–1 (default 1; e.g. 0.6 for img2img)
  --mask MASK.png         repaint the white (or transparent) area of the init image
  --grow-mask N           VAEEncodeForInpaint grow_mask_by (default 6)
  --inpaint-mode MODE     vae-encode-for-inpaint (default at denoise 1) | noise-mask

ControlNet (repeat the group for several):
  --controlnet PATH       ControlNet (diffusers folder/file or control_model .safetensors)
  --control IMAGE         its control image (sketch, line art, …)
  --strength X            default 1 (0–10)
  --start P --end P       active from start_percent to end_percent (default 0 and 1)
  --sketch-fidelity F     0–1: sets strength = F and end = F together (the comic slider)
  --guess-mode            ControlNet guess mode (no control on the unconditional half)

T2I-Adapter (repeat the group for several; their scaled features add up):
  --t2i-adapter PATH      T2I-Adapter (diffusers folder or .safetensors with diffusers keys)
  --adapter-image IMAGE   its control image (sketch, line art, depth, …); resized to the output size
  --adapter-scale X       adapter_conditioning_scale, default 1 (0–10; 0 = off)

output and runtime:
  -o, --output FILE       output PNG (default out.png; with -n 3: out.png, out-2.png, out-3.png)
  --overwrite             replace existing output files (never an input file)
  --from IMAGE.png        take every setting from an image's metadata; other options override
  --device cpu|cuda       execution provider (default cpu)
  --precision fp32|int8   int8: quantised UNet, text encoder and VAE — faster, lossy (prints the error it
                          was measured to add); default fp32 (exact)
  --cache-steps N         step caching: full UNet every N steps (and the first 40 % and the last), only
                          its shallow blocks in between; 1 = off (default); lossy
  -h, --help              this help`;

const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  negative: { type: 'string' },
  lora: { type: 'string', multiple: true },
  loras: { type: 'string', multiple: true },
  embeddings: { type: 'string', multiple: true },
  'clip-skip': { type: 'string' },
  prediction: { type: 'string' },
  tokenizer: { type: 'string' },
  'prompt-l': { type: 'string' },
  'negative-l': { type: 'string' },
  'original-size': { type: 'string' },
  'crop-top-left': { type: 'string' },
  'target-size': { type: 'string' },
  'aesthetic-score': { type: 'string' },
  'negative-aesthetic-score': { type: 'string' },
  steps: { type: 'string' },
  cfg: { type: 'string' },
  sampler: { type: 'string' },
  scheduler: { type: 'string' },
  seed: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  batch: { type: 'string', short: 'n' },
  init: { type: 'string' },
  denoise: { type: 'string' },
  mask: { type: 'string' },
  'grow-mask': { type: 'string' },
  'inpaint-mode': { type: 'string' },
  controlnet: { type: 'string', multiple: true },
  control: { type: 'string', multiple: true },
  strength: { type: 'string', multiple: true },
  start: { type: 'string', multiple: true },
  end: { type: 'string', multiple: true },
  'sketch-fidelity': { type: 'string' },
  'guess-mode': { type: 'boolean' },
  't2i-adapter': { type: 'string', multiple: true },
  'adapter-image': { type: 'string', multiple: true },
  'adapter-scale': { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  from: { type: 'string' },
  device: { type: 'string' },
  precision: { type: 'string' },
  'cache-steps': { type: 'string' },
  overwrite: { type: 'boolean' },
} as const;

function num(name: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  return x;
}

function parseLora(spec: string): GenerationRecord['loras'][number] {
  // FILE[:W[:WCLIP]] — split numbers off the end so Windows drive letters and colons in paths survive.
  const parts = spec.split(':');
  const nums: number[] = [];
  while (parts.length > 1 && /^-?\d*\.?\d+(e-?\d+)?$/i.test(parts[parts.length - 1]) && nums.length < 2) nums.unshift(Number(parts.pop()));
  const path = parts.join(':');
  if (!path) throw new UsageError(`--lora "${spec}": no file`);
  const model = nums[0] ?? 1;
  return { path, strengthModel: model, strengthClip: nums[1] ?? model };
}

/** Reads the settings stored by a previous run (or by ComfyUI) in a PNG. */
export function recordFromImage(path: string): Partial<GenerationRecord> {
  const png = readImageBytes(path);
  const text = readPngText(png);
  if (text.inkflow) {
    let rec: unknown;
    try {
      rec = JSON.parse(text.inkflow);
    } catch {
      // not JSON: fall through to the ComfyUI prompt
    }
    if (rec && typeof rec === 'object' && (rec as { kind?: unknown }).kind === 'generate') {
      const parsed = parseGenerationRecord(rec);
      if (!parsed.ok) throw new UsageError(`${path}: its inkflow generation record is damaged — ${parsed.problems} (regenerate without --from, or fix the PNG's metadata)`);
      return parsed.record;
    }
  }
  if (text.prompt) return fromComfyPrompt(text.prompt);
  throw new UsageError(`${path} has no generation metadata (no "inkflow" or ComfyUI "prompt" tEXt chunk)`);
}

/** Does the mask file use transparency (then transparent = repaint, as ComfyUI's LoadImage mask)? */
async function hasTransparency(path: string): Promise<boolean> {
  const img = await decodeImage(readInput(path), 4, path);
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] < 255) return true;
  return false;
}

/** Input images are read with the byte limit (imaging/limits: a FIFO or /dev/zero cannot fill memory). */
function readInput(path: string): Buffer {
  return readImageBytes(path);
}

/** The image side without --width/--height: SDXL's native 1024, else the SD1 default. */
export function defaultSize(model: string): number {
  return isSdxlCheckpoint(model) ? 1024 : D.width;
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate images (txt2img, img2img, inpainting, ControlNet, T2I-Adapter) with ComfyUI samplers and seeds',
  help: HELP,
  async run(argv) {
    const v = parseOptions('generate', argv, OPTIONS).values;
    const from: Partial<GenerationRecord> = v.from ? recordFromImage(v.from) : {};
    const usesDefault = !v.model && !from.model;
    const model = v.model ? resolve(v.model) : from.model ?? defaultTextToImagePath();
    if (usesDefault) {
      if (!hasDefaultTextToImage()) throw new UsageError(`--model is required (the bundled default model is missing: ${model})`);
      console.error(`no --model given: using inkflow's bundled default model ${model} (tiny, tag prompts such as "red hair, blue shirt, green pants, arms up"; ${DEFAULT_T2I_SIZE}×${DEFAULT_T2I_SIZE}; see its README.md)`);
    }
    if (!existsSync(model)) throw new UsageError(`model not found: ${model}${v.from && !v.model ? ` (from ${v.from}; pass --model PATH)` : ''}`);
    const prompt = v.prompt ?? from.prompt;
    if (prompt === undefined) throw new UsageError('--prompt is required');
    const output = v.output ?? 'out.png';
    if (extname(output).toLowerCase() !== '.png') throw new UsageError(`output must be a .png file, got ${output}`);
    const device = v.device ?? 'cpu';
    if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got ${device}`);
    const prediction = v.prediction ?? from.prediction;
    if (prediction !== undefined && prediction !== 'eps' && prediction !== 'v' && prediction !== 'v_prediction') throw new UsageError(`--prediction must be eps or v, got ${prediction}`);
    const seedText = v.seed ?? from.seed ?? String(randomInt(0, 2 ** 48 - 1));
    parseSeed(seedText);
    const inpaintMode = v['inpaint-mode'] ?? from.inpaintMode;
    if (inpaintMode !== undefined && inpaintMode !== 'vae-encode-for-inpaint' && inpaintMode !== 'noise-mask') throw new UsageError(`--inpaint-mode must be vae-encode-for-inpaint or noise-mask, got ${inpaintMode}`);

    // ControlNets: groups by position (--controlnet i pairs with --control i, --strength i, …).
    const cnPaths = v.controlnet ?? [];
    let controls: GenerationRecord['controlNets'];
    const fidelity = num('sketch-fidelity', v['sketch-fidelity']) ?? (cnPaths.length ? undefined : from.sketchFidelity);
    if (cnPaths.length) {
      const hints = v.control ?? [];
      if (hints.length !== cnPaths.length) throw new UsageError(`${cnPaths.length} --controlnet but ${hints.length} --control images: give one --control per --controlnet`);
      if (fidelity !== undefined && (v.strength?.length || v.end?.length)) throw new UsageError('--sketch-fidelity sets strength and end together: do not combine it with --strength / --end');
      controls = cnPaths.map((path, i) => {
        const sf = fidelity !== undefined ? sketchFidelity(fidelity) : undefined;
        return {
          path: resolve(path), hint: resolve(hints[i]),
          strength: sf?.strength ?? num('strength', v.strength?.[i] ?? v.strength?.[0]) ?? 1,
          startPercent: num('start', v.start?.[i] ?? v.start?.[0]) ?? 0,
          endPercent: sf?.endPercent ?? num('end', v.end?.[i] ?? v.end?.[0]) ?? 1,
          guessMode: v['guess-mode'] ?? false,
        };
      });
    } else {
      if (v.control?.length || v.strength?.length) throw new UsageError('--control / --strength need --controlnet');
      controls = from.controlNets ?? [];
    }

    // T2I-Adapters: groups by position, like ControlNets.
    const adapterPaths = v['t2i-adapter'] ?? [];
    let adapters: NonNullable<GenerationRecord['adapters']>;
    if (adapterPaths.length) {
      const images = v['adapter-image'] ?? [];
      if (images.length !== adapterPaths.length) throw new UsageError(`${adapterPaths.length} --t2i-adapter but ${images.length} --adapter-image: give one --adapter-image per --t2i-adapter`);
      const scales = v['adapter-scale'] ?? [];
      if (scales.length > adapterPaths.length) throw new UsageError(`${scales.length} --adapter-scale for ${adapterPaths.length} --t2i-adapter`);
      adapters = adapterPaths.map((path, i) => {
        const scale = num('adapter-scale', scales[i] ?? scales[0]) ?? 1;
        if (!(scale >= 0 && scale <= 10)) throw new UsageError(`--adapter-scale must be in [0, 10], got ${scale}`);
        return { path: resolve(path), image: resolve(images[i]), scale };
      });
    } else {
      if (v['adapter-image']?.length || v['adapter-scale']?.length) throw new UsageError('--adapter-image / --adapter-scale need --t2i-adapter');
      adapters = from.adapters ?? [];
    }

    const init = v.init ? resolve(v.init) : from.init;
    const mask = v.mask ? resolve(v.mask) : v.init ? undefined : from.mask;
    // SDXL goes through the same graph; what its nodes do not support yet is refused here, before any work.
    const sdxl = isSdxlCheckpoint(model);
    const size = usesDefault || model === defaultTextToImagePath() ? DEFAULT_T2I_SIZE : defaultSize(model);
    const rec: GenerationRecord = {
      model, prompt, negative: v.negative ?? from.negative ?? '', seed: seedText,
      steps: num('steps', v.steps, true) ?? from.steps ?? D.steps,
      cfg: num('cfg', v.cfg) ?? from.cfg ?? D.cfg,
      sampler: v.sampler ?? from.sampler ?? D.sampler,
      scheduler: v.scheduler ?? from.scheduler ?? D.scheduler,
      width: num('width', v.width, true) ?? from.width ?? size,
      height: num('height', v.height, true) ?? from.height ?? size,
      batch: num('batch', v.batch, true) ?? from.batch ?? D.batch,
      denoise: num('denoise', v.denoise) ?? from.denoise ?? D.denoise,
      clipSkip: num('clip-skip', v['clip-skip'], true) ?? from.clipSkip ?? D.clipSkip,
      loras: v.lora ? v.lora.map(parseLora).map((l) => ({ ...l, path: resolve(l.path) })) : from.loras ?? [],
      controlNets: controls,
      ...(adapters.length ? { adapters } : {}),
      ...(init ? { init } : {}),
      ...(mask ? { mask, growMaskBy: num('grow-mask', v['grow-mask'], true) ?? from.growMaskBy ?? D.growMaskBy } : {}),
      ...(inpaintMode ? { inpaintMode } : {}),
      ...(fidelity !== undefined ? { sketchFidelity: fidelity } : {}),
      ...(prediction ? { prediction } : {}),
    };
    checkNodeOption('KSampler', 'sampler_name', 'sampler', rec.sampler);
    checkNodeOption('KSampler', 'scheduler', 'scheduler', rec.scheduler);
    checkNodeOption('KSampler', 'steps', 'steps', rec.steps);
    checkNodeOption('KSampler', 'cfg', 'cfg', rec.cfg);
    checkNodeOption('KSampler', 'denoise', 'denoise', rec.denoise);
    checkNodeOption('CLIPSetLastLayer', 'stop_at_clip_layer', 'clip-skip', -rec.clipSkip);
    checkNodeOption(init ? 'RepeatLatentBatch' : 'EmptyLatentImage', init ? 'amount' : 'batch_size', 'batch', rec.batch);
    if (rec.growMaskBy !== undefined) checkNodeOption('VAEEncodeForInpaint', 'grow_mask_by', 'grow-mask', rec.growMaskBy);
    for (const c of controls) {
      checkNodeOption('ControlNetApplyAdvanced', 'strength', 'strength', c.strength);
      checkNodeOption('ControlNetApplyAdvanced', 'start_percent', 'start', c.startPercent);
      checkNodeOption('ControlNetApplyAdvanced', 'end_percent', 'end', c.endPercent);
    }
    if (mask && !init) throw new UsageError('--mask needs --init');
    if (sdxl && rec.clipSkip !== 1) throw new UsageError(`--clip-skip is not supported with SDXL checkpoints yet (${model} is SDXL; leave it at 1)`);
    for (const c of controls) if (existsSync(c.path)) assertControlNetFamily(c.path, model, sdxl);
    const sdxlText = await sdxlTextRecord(v, from, model, sdxl, rec, init && (v.width === undefined || v.height === undefined) ? init : undefined);
    if (sdxlText) rec.sdxl = sdxlText;
    // Before any work: no output may be an input, existing files need --overwrite, the folder must be writable.
    const plan = planOutputs(numberedOutputs(output, rec.batch), [
      { flag: '--from', path: v.from }, { flag: '--model', path: model }, { flag: '--init', path: init }, { flag: '--mask', path: mask },
      ...controls.flatMap((c) => [{ flag: '--controlnet', path: c.path }, { flag: '--control', path: c.hint }]),
      ...adapters.flatMap((a) => [{ flag: '--t2i-adapter', path: a.path }, { flag: '--adapter-image', path: a.image }]),
      ...rec.loras.map((l) => ({ flag: '--lora', path: l.path })),
    ], { overwrite: v.overwrite });
    for (const a of adapters) if (!existsSync(a.path)) throw new UsageError(`T2I-Adapter not found: ${a.path}`);
    for (const c of controls) if (!existsSync(c.path)) throw new UsageError(`ControlNet not found: ${c.path}`);
    if (mask) {
      rec.maskChannel = (await hasTransparency(mask)) ? 'alpha' : 'red';
      rec.inpaintMode ??= rec.denoise >= 1 ? 'vae-encode-for-inpaint' : 'noise-mask';
    }

    // The command is a small workflow: the record's ComfyUI graph, run by the same executor as the server,
    // in a throwaway data folder whose model folders are the ones the files live in.
    const work = mkdtempSync(join(tmpdir(), 'inkflow-generate-'));
    try {
      const precision = v.precision ?? 'fp32';
      if (!(PRECISIONS as readonly string[]).includes(precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got ${precision}`);
      const cacheSteps = num('cache-steps', v['cache-steps'], true) ?? 1;
      if (cacheSteps < 1 || cacheSteps > MAX_CACHE_INTERVAL) throw new UsageError(`--cache-steps must be in [1, ${MAX_CACHE_INTERVAL}], got ${cacheSteps}`);
      for (const note of fastModeNotes({ precision: precision as 'fp32' | 'int8', cacheSteps })) console.error(note);
      const env = dataFolderEnv(work, { device, tokenizerDir: v.tokenizer, ...(precision === 'int8' ? { int8Models: ['*'] } : {}), cacheSteps });
      const addDir = (kind: string, dir: string) => {
        if (!env.modelDirs[kind].includes(dir)) env.modelDirs[kind].push(dir);
      };
      addDir('checkpoints', dirname(model));
      for (const l of rec.loras) addDir('loras', dirname(l.path));
      for (const d of v.loras ?? []) addDir('loras', resolve(d));
      for (const d of v.embeddings ?? []) addDir('embeddings', resolve(d));
      for (const c of controls) addDir('controlnet', dirname(c.path));
      for (const a of adapters) addDir('controlnet', dirname(a.path));
      // Input images are copied under their own names (the names the saved ComfyUI graph shows).
      for (const f of new Set([init, mask, ...controls.map((c) => c.hint), ...adapters.map((a) => a.image)].filter((x): x is string => !!x))) {
        const target = join(env.inputDir, basename(f));
        if (existsSync(target)) throw new UsageError(`two input images are both named ${basename(f)} — rename one of them`);
        writeFileSync(target, readInput(f));
      }
      // <lora:name> tags resolve inside the --loras folders only (unsafe or missing names fail here, clearly).
      const loraFiles = new Map<string, string>();
      for (const t of promptLoras(parsePrompt(rec.prompt), parsePrompt(rec.negative))) {
        const path = resolveLoraPath(t.name, (v.loras ?? []).map((d) => resolve(d)));
        addDir('loras', dirname(path));
        loraFiles.set(t.name, basename(path));
      }
      const resizeInit = init && v.width !== undefined && v.height !== undefined ? { width: rec.width, height: rec.height } : undefined;
      const graph = toComfyPrompt(rec, { resizeInit, loraFiles });
      const t0 = performance.now();
      const result = await runCliWorkflow(graph, env, { label: 'generate', quietNodes: true });
      if (result.status === 'interrupted') {
        process.stderr.write('inkflow: interrupted — nothing was written\n');
        return 130;
      }
      const first = await decodeImage(readInput(result.files[0]), 3, result.files[0]);
      rec.width = first.width;
      rec.height = first.height;
      for (const line of formatLoraReport(collectLoraReport(result.outputs))) console.error(line);
      // The PNGs SaveImage wrote (with the executed prompt) plus the exact record, written all or nothing.
      // The lossy modes are recorded only when on (fp32 records stay as they were).
      const lossy = { ...(env.int8Models ? { precision: 'int8' } : {}), ...(env.cacheSteps ? { cacheSteps: env.cacheSteps } : {}) };
      const pngs = result.files.map((f, i) => insertPngText(readInput(f), { inkflow: JSON.stringify({ kind: 'generate', version: 1, ...rec, batchIndex: i, ...lossy }) }));
      writeOutputs(plan, pngs);
      const written = numberedOutputs(output, result.files.length);
      console.log(`seed ${rec.seed}: ${written.join(', ')} (${rec.width}×${rec.height}, ${rec.steps} steps ${rec.sampler}/${rec.scheduler}, cfg ${rec.cfg}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
