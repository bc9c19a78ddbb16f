// A Stable Diffusion checkpoint as one object (ComfyUI's CheckpointLoaderSimple → MODEL, CLIP, VAE):
// a diffusers folder (model_index.json + unet/ vae/ text_encoder/ tokenizer/ [scheduler/]) or an LDM
// single-file .safetensors (A1111 / ComfyUI style). `.ckpt` and other pickles are refused.
// Nothing is compiled up front: the UNet, text encoder and VAE are compiled on first use (from the
// disk compile cache after the first time), optionally one resident at a time, and LoRAs are merged
// into the weight stores on the way (kohya / diffusers / PEFT layouts).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WeightStore } from '../../graph/weights.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { assertNotPickle } from '../../weights/pickle_guard.ts';
import { applyLoras, assertLoraFile, type LoraReport } from '../../weights/lora.ts';
import { detectClipTextLayout, ldmClipTextWeights } from '../../weights/keymaps/ldmClip.ts';
import type { PredictionType } from '../predictionType.ts';
import { downsampleFactor, parseUNetConfig, type UNetConfig } from '../unet/config.ts';
import { inferLdmUNetConfig } from '../unet/ldmConfig.ts';
import { buildUNetGraph, ldmLayout, openUNetCheckpoint, unetWeights } from '../unet/load.ts';
import { openVaeWeights, vaeModel, type VaeModel } from '../vae/loadVae.ts';
import type { VaeConfig } from '../vae/config.ts';
import { vaeScaleFactor } from '../vae/config.ts';
import { resolveComponent } from '../modelFolder.ts';
import { clipTextEncoder, clipTextGraph, inferClipTextConfig, type ClipTextEncoder } from '../clip/textEncoder.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../clip/config.ts';
import { loadClipTokenizer, resolveTokenizerDir, type ClipTokenizer } from '../tokenizer/clipTokenizer.ts';
import { findTagVocab, loadTagTokenizer } from '../tokenizer/tagTokenizer.ts';
import { CheckpointError, detectFamily, detectPrediction, isSdxlSingleFile, predictionFromSchedulerConfig, type ModelFamily } from './family.ts';
import { createResidency, type ResidencyMode } from './residency.ts';
import { unetRunner, type UNetRunner } from './unetRunner.ts';
import { textEncoderLoraTarget, unetLoraTarget, type LoraSpec } from './loras.ts';
import { embeddingLibrary, extendTokenTable, type Embedding, type EmbeddingLibrary } from './embeddings.ts';
import { readTextLimited } from '../../files/readText.ts';

export interface LoadCheckpointOptions extends CompileOptions {
  /** Overrides the detected prediction type (e.g. for an SD2 768-v file with an uninformative name). */
  prediction?: PredictionType;
  /** Folder with the CLIP tokenizer's vocab.json + merges.txt (single files carry none). */
  tokenizerDir?: string;
  /** `one` keeps only one of UNet / text encoder / VAE compiled at a time (default `all`). */
  residency?: ResidencyMode;
  /** A diffusers UNet config for a single file whose structure cannot be inferred. */
  unetConfig?: Record<string, unknown>;
  /** Folders searched for `embedding:name`. */
  embeddingsDirs?: readonly string[];
}

export interface TextEncoderHandle {
  encoder: ClipTextEncoder;
  /** Token id for vector `vector` of an embedding loaded into this encoder. */
  idOf(name: string, vector: number): number;
}

export interface Checkpoint {
  readonly path: string;
  readonly format: 'diffusers' | 'single-file';
  readonly family: ModelFamily;
  readonly prediction: PredictionType;
  readonly predictionReason: string;
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VaeConfig;
  readonly textConfig: ClipTextConfig;
  readonly tokenizer: ClipTokenizer;
  /** CLIP window padding id: EOS for SD1, 0 for SD2 (ComfyUI / diffusers). */
  readonly padToken: number;
  /** Image pixels per latent pixel (8 for SD). */
  readonly vaeScaleFactor: number;
  /** Latent scale applied around the sampler (0.18215 for SD1/SD2). */
  readonly latentScale: number;
  /** Latent sizes must be multiples of this (the UNet's downsampling). */
  readonly latentMultiple: number;
  /** UNet takes [noise ‖ mask ‖ masked-image latent] (9 input channels). */
  readonly isInpaint: boolean;
  readonly embeddings: EmbeddingLibrary;
  readonly loras: readonly LoraSpec[];
  /** The UNet (compiled per shape on first forward). Marks it as the resident component. */
  useUNet(): Promise<UNetRunner>;
  /** The text encoder, with the given textual-inversion embeddings appended to its token table. */
  useTextEncoder(embeddings?: readonly Embedding[]): Promise<TextEncoderHandle>;
  useVae(): Promise<VaeModel>;
  /** LoRA merge report (built on first use of the UNet / text encoder). */
  loraReport(): { unet?: LoraReport; text?: LoraReport };
  /** A view of this checkpoint with LoRAs merged (shares files; its sessions are its own). */
  withLoras(loras: readonly LoraSpec[]): Checkpoint;
  /** Frees this view's sessions (and, for the original, closes the files). */
  release(): Promise<void>;
  /**
   * The files a component's weights come from (LoRAs included), with the key prefix of that component
   * inside each: for naming the culprit when a stage produces NaN / inf. Empty for in-memory parts.
   */
  weightFiles(component: CheckpointComponent): readonly ComponentFile[];
}

export type CheckpointComponent = 'unet' | 'vae' | 'text';

export interface ComponentFile {
  reader: SafetensorsReader;
  /** Key prefix of the component in the file ('' for a component file of a diffusers folder). */
  prefix: string;
}

/** A checkpoint's pieces: configs, weight stores and tokenizer (files or in-memory / random stores). */
export interface CheckpointParts {
  path: string;
  format: Checkpoint['format'];
  family: ModelFamily;
  prediction: PredictionType;
  predictionReason: string;
  unetConfig: UNetConfig;
  unetStore: WeightStore;
  unetLayout: ReturnType<typeof ldmLayout>;
  vaeConfig: VaeConfig;
  vaeStore: WeightStore;
  textConfig: ClipTextConfig;
  textStore: WeightStore;
  tokenizer: ClipTokenizer;
  /** Files to close when the checkpoint is released. */
  readers: SafetensorsReader[];
  /** Where each component's weights are (for diagnosis; see Checkpoint.weightFiles). */
  files?: Partial<Record<CheckpointComponent, ComponentFile>>;
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readTextLimited(path));
  } catch (e) {
    throw new CheckpointError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function openDiffusersFolder(path: string, opts: LoadCheckpointOptions): CheckpointParts {
  const readers: SafetensorsReader[] = [];
  try {
    const unetDir = join(path, 'unet');
    if (!existsSync(unetDir)) throw new CheckpointError(`${path}: diffusers folder has no unet/ subfolder`);
    const unet = openUNetCheckpoint(unetDir, opts.unetConfig);
    readers.push(unet.reader);
    const u = unetWeights(unet.reader, unet.config);
    const vae = openVaeWeights(path);
    readers.push(vae.reader);
    const te = resolveComponent(path, { subfolder: 'text_encoder', weightNames: ['model.safetensors'], what: 'text encoder' });
    const teReader = openSafetensors(te.weightsPath);
    readers.push(teReader);
    const layout = detectClipTextLayout(teReader);
    if (!layout) throw new CheckpointError(`${te.weightsPath}: no CLIP text encoder weights`);
    const textStore = ldmClipTextWeights(teReader, layout);
    const textConfig = te.configPath ? parseClipTextConfig(readJson(te.configPath, 'text encoder config'), te.configPath) : inferClipTextConfig(textStore, layout, te.weightsPath);
    const schedPath = join(path, 'scheduler', 'scheduler_config.json');
    const schedPrediction = existsSync(schedPath) && !opts.prediction ? predictionFromSchedulerConfig(readJson(schedPath, 'scheduler config'), schedPath) : undefined;
    const prediction = opts.prediction ?? schedPrediction ?? 'eps';
    const family = detectFamily(textConfig.hidden_act === 'gelu' ? 'openclip' : 'transformers', unet.config.crossAttentionDim);
    // A model with its own tag vocabulary (inkflow's bundled text-to-image model) never uses CLIP's tables.
    const tagVocab = findTagVocab(path);
    const tokenizer = tagVocab ? loadTagTokenizer(tagVocab) : loadClipTokenizer(resolveTokenizerDir({ tokenizerDir: opts.tokenizerDir, modelDir: path }));
    return {
      path, format: 'diffusers', family, prediction,
      predictionReason: opts.prediction ? 'option' : schedPrediction ? 'scheduler_config.json' : 'default',
      unetConfig: unet.config, unetStore: u.store, unetLayout: ldmLayout(unet.config),
      vaeConfig: vae.config, vaeStore: vae.store, textConfig, textStore, tokenizer, readers,
      files: { unet: { reader: unet.reader, prefix: '' }, vae: { reader: vae.reader, prefix: '' }, text: { reader: teReader, prefix: '' } },
    };
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
}

function openSingleFile(path: string, opts: LoadCheckpointOptions): CheckpointParts {
  assertNotPickle(path);
  const reader = openSafetensors(path);
  const readers = [reader];
  try {
    if (isSdxlSingleFile(reader)) throw new CheckpointError(`${path} is an SDXL checkpoint; the generate pipeline supports SD1.x and SD2.x checkpoints`);
    const unetConfig = opts.unetConfig ? parseUNetConfig(opts.unetConfig) : inferLdmUNetConfig(reader);
    const u = unetWeights(reader, unetConfig);
    const layout = detectClipTextLayout(reader);
    if (!layout) throw new CheckpointError(`${path}: no text encoder found (expected cond_stage_model.transformer.* for SD1 or cond_stage_model.model.* for SD2)`);
    const textStore = ldmClipTextWeights(reader, layout);
    const textConfig = inferClipTextConfig(textStore, layout, path);
    const vae = openVaeWeights(path);
    readers.push(vae.reader);
    const family = detectFamily(layout.kind, unetConfig.crossAttentionDim);
    const p = detectPrediction(reader, family, unetConfig.inChannels, opts.prediction);
    const tokenizer = loadClipTokenizer(resolveTokenizerDir({ tokenizerDir: opts.tokenizerDir }));
    return {
      path, format: 'single-file', family, prediction: p.prediction, predictionReason: p.reason,
      unetConfig, unetStore: u.store, unetLayout: ldmLayout(unetConfig),
      vaeConfig: vae.config, vaeStore: vae.store, textConfig, textStore, tokenizer, readers,
      files: { unet: { reader, prefix: 'model.diffusion_model.' }, vae: { reader: vae.reader, prefix: 'first_stage_model.' }, text: { reader, prefix: 'cond_stage_model.' } },
    };
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
}

/** Opens a checkpoint (diffusers folder or single .safetensors file); nothing is compiled yet. */
export function loadCheckpoint(path: string, opts: LoadCheckpointOptions = {}): Checkpoint {
  if (!existsSync(path)) throw new CheckpointError(`checkpoint not found: ${path}`);
  let parts: CheckpointParts;
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'model_index.json')) && !existsSync(join(path, 'unet'))) {
      throw new CheckpointError(`${path} is a folder but not a diffusers pipeline (no model_index.json or unet/)`);
    }
    parts = openDiffusersFolder(path, opts);
  } else {
    parts = openSingleFile(path, opts);
  }
  try {
    assertPartsAgree(parts);
  } catch (e) {
    for (const r of parts.readers) r.close();
    throw e;
  }
  return checkpointView(parts, opts, [], true);
}

/** The UNet must take what the VAE makes: latents (or, inpainting, latent + mask + masked latent). */
function assertPartsAgree(parts: CheckpointParts): void {
  const c = parts.vaeConfig.latent_channels;
  const inC = parts.unetConfig.inChannels;
  if (inC !== c && inC !== 2 * c + 1) {
    throw new CheckpointError(`${parts.path}: the UNet takes ${inC} input channels but the VAE makes ${c}-channel latents (a UNet takes ${c}, an inpainting UNet ${2 * c + 1}) — the UNet and VAE do not belong together, or a tensor is damaged (use a complete checkpoint)`);
  }
  if (parts.unetConfig.crossAttentionDim !== parts.textConfig.hidden_size) {
    throw new CheckpointError(`${parts.path}: the UNet's cross_attention_dim is ${parts.unetConfig.crossAttentionDim} but the text encoder gives ${parts.textConfig.hidden_size}-wide states — the UNet config does not fit this text encoder (fix unet/config.json or use a complete checkpoint)`);
  }
  if (parts.unetConfig.outChannels !== c) {
    throw new CheckpointError(`${parts.path}: the UNet predicts ${parts.unetConfig.outChannels} channels but the VAE decodes ${c}-channel latents — the UNet and VAE do not belong together (use a complete checkpoint)`);
  }
}

/** A checkpoint over already opened parts (benchmarks and tests use random-weight stores). */
export function checkpointFromParts(parts: CheckpointParts, opts: LoadCheckpointOptions = {}): Checkpoint {
  return checkpointView(parts, opts, [], true);
}

/** Opens a LoRA file, refusing pickles and files without LoRA weights. */
function openLora(path: string): SafetensorsReader {
  assertNotPickle(path);
  const reader = openSafetensors(path);
  try {
    assertLoraFile(reader);
  } catch (e) {
    reader.close();
    throw new CheckpointError((e as Error).message);
  }
  return reader;
}

function checkpointView(parts: CheckpointParts, opts: LoadCheckpointOptions, loras: readonly LoraSpec[], owner: boolean): Checkpoint {
  // int8 (a per-model setting: every component compiles quantised); absent keeps the fp32 compile keys.
  const compileOpts: CompileOptions = { provider: opts.provider, threads: opts.threads, fuse: opts.fuse, cacheDir: opts.cacheDir, ...(opts.precision === 'int8' ? { precision: 'int8' as const } : {}) };
  const residency = createResidency(opts.residency ?? 'all');
  const loraReaders: { spec: LoraSpec; reader: SafetensorsReader }[] = [];
  try {
    for (const l of loras) loraReaders.push({ spec: l, reader: openLora(l.path) });
  } catch (e) {
    for (const l of loraReaders) l.reader.close();
    throw e;
  }
  const report: { unet?: LoraReport; text?: LoraReport } = {};
  let unet: UNetRunner | undefined;
  let vae: VaeModel | undefined;
  let text: { key: string; handle: TextEncoderHandle } | undefined;
  let textBase: WeightStore | undefined;

  const unetStore = (): WeightStore => {
    const active = loraReaders.filter((l) => l.spec.strengthModel !== 0);
    if (!active.length) return parts.unetStore;
    const cfg = parts.unetConfig;
    const m = downsampleFactor(cfg);
    const names = buildUNetGraph(cfg, { batch: 1, height: m, width: m, seqLen: 1 }).params.keys();
    const r = applyLoras(parts.unetStore, active.map((l) => ({ reader: l.reader, strength: l.spec.strengthModel })), unetLoraTarget([...names], parts.unetLayout));
    report.unet = r.report;
    return r.store;
  };
  const textStoreWithLoras = (): WeightStore => {
    if (textBase) return textBase;
    const active = loraReaders.filter((l) => l.spec.strengthClip !== 0);
    if (!active.length) return (textBase = parts.textStore);
    const names = clipTextGraph(parts.textConfig, { batch: 1, seqLen: 1 }).params.keys();
    const r = applyLoras(parts.textStore, active.map((l) => ({ reader: l.reader, strength: l.spec.strengthClip })), textEncoderLoraTarget([...names]));
    report.text = r.report;
    return (textBase = r.store);
  };

  const view: Checkpoint = {
    path: parts.path,
    format: parts.format,
    family: parts.family,
    prediction: parts.prediction,
    predictionReason: parts.predictionReason,
    unetConfig: parts.unetConfig,
    vaeConfig: parts.vaeConfig,
    textConfig: parts.textConfig,
    tokenizer: parts.tokenizer,
    padToken: parts.family === 'sd2' ? 0 : parts.tokenizer.eosId,
    vaeScaleFactor: vaeScaleFactor(parts.vaeConfig),
    latentScale: parts.vaeConfig.scaling_factor,
    latentMultiple: downsampleFactor(parts.unetConfig),
    isInpaint: parts.unetConfig.inChannels === parts.vaeConfig.latent_channels * 2 + 1,
    embeddings: embeddingLibrary(opts.embeddingsDirs ?? [], parts.textConfig.hidden_size),
    loras,
    async useUNet() {
      unet ??= unetRunner(parts.unetConfig, unetStore(), compileOpts);
      await residency.use('unet', unet);
      return unet;
    },
    async useTextEncoder(embeddings = []) {
      const key = embeddings.map((e) => `${e.name}@${e.file}`).sort().join('|');
      if (!text || text.key !== key) {
        if (text) await text.handle.encoder.release();
        const ext = extendTokenTable(textStoreWithLoras(), embeddings);
        const config = { ...parts.textConfig, vocab_size: ext.vocabSize };
        text = { key, handle: { encoder: clipTextEncoder(config, ext.store, compileOpts), idOf: ext.idOf } };
      }
      await residency.use('text', text.handle.encoder);
      return text.handle;
    },
    async useVae() {
      vae ??= vaeModel(parts.vaeConfig, parts.vaeStore, compileOpts);
      await residency.use('vae', vae);
      return vae;
    },
    loraReport: () => report,
    weightFiles(component) {
      const own = parts.files?.[component];
      const fromLoras = component === 'vae' ? [] : loraReaders.map((l) => ({ reader: l.reader, prefix: '' }));
      return [...(own ? [own] : []), ...fromLoras];
    },
    withLoras: (more) => checkpointView(parts, opts, more, false),
    async release() {
      await residency.releaseAll();
      if (text) await text.handle.encoder.release();
      for (const l of loraReaders) l.reader.close();
      if (owner) for (const r of parts.readers) r.close();
    },
  };
  return view;
}
