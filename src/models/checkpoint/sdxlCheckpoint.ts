// An SDXL checkpoint (base or refiner) as one object, like loadCheckpoint for SD1/SD2:
//   single file  conditioner.embedders.0.transformer.*  CLIP ViT-L text (base only; transformers names)
//                conditioner.embedders.1.model.*        OpenCLIP ViT-bigG text (base; refiner: embedders.0.model.*),
//                                                       fused attn.in_proj split into q/k/v, text_projection transposed
//                model.diffusion_model.*                SDXL UNet (label_emb = add_embedding), config inferred
//                first_stage_model.*                    VAE (scaling factor 0.13025)
//   diffusers    model_index.json + unet/ vae/ [text_encoder/] text_encoder_2/ [tokenizer/ tokenizer_2/]
// Both towers keep every layer: SDXL reads the penultimate hidden state of each, and bigG's pooled output
// (final LayerNorm of the last layer at EOS, projected) feeds the UNet's add_embedding.
// fp16 files stay fp16-stored (the stores mark f16 sources; the compiled graphs compute in f32).
// Nothing is compiled up front; LoRAs are merged lazily into the UNet and both towers (lora_unet_,
// lora_te1_, lora_te2_ and diffusers/PEFT forms).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WeightStore } from '../../graph/weights.ts';
import type { CompileOptions } from '../../runtime/session.ts';
import { openSafetensors, type SafetensorsReader } from '../../weights/safetensors.ts';
import { assertNotPickle } from '../../weights/pickle_guard.ts';
import { applyLoras, type LoraReport } from '../../weights/lora.ts';
import { safetensorsWeights } from '../../weights/store.ts';
import { ldmClipTextWeights, type ClipTextLayout } from '../../weights/keymaps/ldmClip.ts';
import type { PredictionType } from '../predictionType.ts';
import { downsampleFactor, parseUNetConfig, withTextEmbedDim, type UNetConfig } from '../unet/config.ts';
import { inferLdmUNetConfig } from '../unet/ldmConfig.ts';
import { buildUNetGraph, ldmLayout, openUNetCheckpoint, unetWeights } from '../unet/load.ts';
import { openVaeWeights, vaeModel, type VaeModel } from '../vae/loadVae.ts';
import { vaeScaleFactor, type VaeConfig } from '../vae/config.ts';
import { resolveComponent } from '../modelFolder.ts';
import { clipTextEncoder, clipTextGraph, inferClipTextConfig, type ClipTextEncoder } from '../clip/textEncoder.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../clip/config.ts';
import { loadClipTokenizer, resolveTokenizerDir, type ClipTokenizer } from '../tokenizer/clipTokenizer.ts';
import { CheckpointError, detectPrediction, predictionFromSchedulerConfig } from './family.ts';
import { createResidency, type ResidencyMode } from './residency.ts';
import { unetRunner, type UNetRunner } from './unetRunner.ts';
import { sdxlTextLoraTarget, unetLoraTarget, type LoraSpec } from './loras.ts';
import { embeddingLibrary, extendTokenTable, type EmbeddingLibrary } from './embeddings.ts';

/** SDXL's latent scale (sgm's scale_factor; diffusers vae/config.json scaling_factor). */
export const SDXL_LATENT_SCALE = 0.13025;

export type SdxlKind = 'base' | 'refiner';

export interface LoadSdxlOptions extends CompileOptions {
  prediction?: PredictionType;
  /** Folder with the CLIP BPE tables (single files and tokenizer-less folders carry none). */
  tokenizerDir?: string;
  /** `one` keeps only one of UNet / text encoders / VAE compiled at a time (default `all`). */
  residency?: ResidencyMode;
  /** A diffusers UNet config for a single file whose structure cannot be inferred. */
  unetConfig?: Record<string, unknown>;
  /** Single files: transformers text configs (config.json contents) when head counts are not 64-wide. */
  textConfigs?: { l?: Record<string, unknown>; g?: Record<string, unknown> };
  /** Single files: a diffusers VAE config.json (e.g. for norm groups other than 32). */
  vaeConfigPath?: string;
  /** Folders searched for `embedding:name` (SDXL files hold `clip_l` and `clip_g` vectors). */
  embeddingsDirs?: readonly string[];
}

/** One text tower: its config and weights, and the id that pads its windows (ViT-L: EOS; bigG: 0 = "!"). */
export interface SdxlTowerParts {
  config: ClipTextConfig;
  store: WeightStore;
  padToken: number;
}

export interface SdxlCheckpointParts {
  path: string;
  format: 'diffusers' | 'single-file';
  kind: SdxlKind;
  prediction: PredictionType;
  predictionReason: string;
  unetConfig: UNetConfig;
  unetStore: WeightStore;
  vaeConfig: VaeConfig;
  vaeStore: WeightStore;
  /** CLIP ViT-L (base models only). */
  textL?: SdxlTowerParts;
  /** OpenCLIP ViT-bigG with its text projection. */
  textG: SdxlTowerParts;
  tokenizer: ClipTokenizer;
  readers: SafetensorsReader[];
}

export interface SdxlTextEncoders {
  l?: ClipTextEncoder;
  g: ClipTextEncoder;
  /** Token id for vector `vector` of embedding `name` in each tower (after useTextEncoders(embeddings)). */
  idOf(tower: 'l' | 'g', name: string, vector: number): number;
}

/** Textual-inversion embeddings per tower. */
export interface SdxlEmbeddings {
  l?: EmbeddingLibrary;
  g: EmbeddingLibrary;
}

export interface SdxlCheckpoint {
  readonly path: string;
  readonly format: SdxlCheckpointParts['format'];
  readonly family: 'sdxl';
  readonly kind: SdxlKind;
  readonly prediction: PredictionType;
  readonly predictionReason: string;
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VaeConfig;
  readonly textL?: { readonly config: ClipTextConfig; readonly padToken: number };
  readonly textG: { readonly config: ClipTextConfig; readonly padToken: number };
  readonly tokenizer: ClipTokenizer;
  readonly vaeScaleFactor: number;
  readonly latentScale: number;
  readonly latentMultiple: number;
  readonly isInpaint: boolean;
  /** Bytes per UNet weight once compiled: 2 for fp16 checkpoints (kept f16), 4 otherwise. */
  readonly weightBytes: 2 | 4;
  readonly loras: readonly LoraSpec[];
  useUNet(): Promise<UNetRunner>;
  readonly embeddings: SdxlEmbeddings;
  /** Both towers, with the given embeddings (by name) appended to their token tables. */
  useTextEncoders(embeddings?: readonly string[]): Promise<SdxlTextEncoders>;
  useVae(): Promise<VaeModel>;
  loraReport(): { unet?: LoraReport; te1?: LoraReport; te2?: LoraReport };
  withLoras(loras: readonly LoraSpec[]): SdxlCheckpoint;
  release(): Promise<void>;
}

function readJson(path: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Single-file text tower prefixes, as sgm's GeneralConditioner numbers its embedders. */
export const BASE_L_PREFIX = 'conditioner.embedders.0.transformer.';
export const BASE_G_PREFIX = 'conditioner.embedders.1.model.';
export const REFINER_G_PREFIX = 'conditioner.embedders.0.model.';

/** True for an SDXL single file (base or refiner) or diffusers SDXL folder. */
export function isSdxlCheckpoint(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'text_encoder_2'))) return true;
    const index = join(path, 'model_index.json');
    return existsSync(index) && /StableDiffusionXL/.test(String(readJson(index, 'model_index.json')._class_name ?? ''));
  }
  if (!path.toLowerCase().endsWith('.safetensors')) return false;
  const r = openSafetensors(path);
  try {
    return r.has(`${BASE_G_PREFIX}ln_final.weight`) || r.has(`${REFINER_G_PREFIX}ln_final.weight`) || r.has('model.diffusion_model.label_emb.0.0.weight');
  } finally {
    r.close();
  }
}

/** Base or refiner from the layout alone, without loading (a refiner carries the bigG tower only). */
export function sdxlKindOf(path: string): SdxlKind {
  if (statSync(path).isDirectory()) return existsSync(join(path, 'text_encoder')) ? 'base' : 'refiner';
  const r = openSafetensors(path);
  try {
    return r.has(`${REFINER_G_PREFIX}ln_final.weight`) && !r.has(`${BASE_L_PREFIX}text_model.final_layer_norm.weight`) ? 'refiner' : 'base';
  } finally {
    r.close();
  }
}

function openClipLayout(reader: SafetensorsReader, prefix: string): ClipTextLayout | undefined {
  if (!reader.has(`${prefix}token_embedding.weight`)) return undefined;
  let layers = 0;
  while (reader.has(`${prefix}transformer.resblocks.${layers}.ln_1.weight`)) layers++;
  return { kind: 'openclip', prefix, layers };
}

/** The bigG tower from an OpenCLIP layout: every layer kept (inferClipTextConfig drops SD2's last one). */
function bigGTower(reader: SafetensorsReader, layout: ClipTextLayout & { kind: 'openclip' }, source: string, raw?: Record<string, unknown>): SdxlTowerParts {
  let store = ldmClipTextWeights(reader, layout);
  if (!reader.has(`${layout.prefix}text_projection`)) {
    // Some fine-tunes store the projection as a Linear weight (`text_projection.weight`, [out, in]), as ComfyUI accepts.
    const linearKey = `${layout.prefix}text_projection.weight`;
    if (!reader.has(linearKey)) throw new CheckpointError(`${source}: the OpenCLIP text tower under ${layout.prefix} has no text_projection (needed for SDXL's pooled embedding)`);
    const linear = safetensorsWeights(reader, { prefix: layout.prefix });
    const towers = store;
    store = { get: (n) => (n === 'text_projection.weight' ? linear.get(n) : towers.get(n)), keys: () => towers.keys(), fingerprint: () => `${towers.fingerprint()}:linear-projection` };
  }
  const config = raw ? parseClipTextConfig(raw, `${source} (text_encoder_2 config)`) : { ...inferClipTextConfig(store, layout, source), num_hidden_layers: layout.layers };
  return { config, store, padToken: 0 };
}

function vitLTower(reader: SafetensorsReader, source: string, eosId: number, raw?: Record<string, unknown>): SdxlTowerParts {
  const layout: ClipTextLayout = { kind: 'transformers', prefix: BASE_L_PREFIX, textModel: reader.has(`${BASE_L_PREFIX}text_model.embeddings.token_embedding.weight`) };
  const store = ldmClipTextWeights(reader, layout);
  const config = raw ? parseClipTextConfig(raw, `${source} (text_encoder config)`) : inferClipTextConfig(store, layout, source);
  return { config, store, padToken: eosId };
}

/** The UNet config with the pooled width taken from the bigG tower (base: 6 time ids, refiner: 5). */
function fitAddition(config: UNetConfig, textG: SdxlTowerParts, source: string): UNetConfig {
  if (!config.addition) throw new CheckpointError(`${source}: the UNet has no SDXL add_embedding (label_emb); not an SDXL checkpoint`);
  return withTextEmbedDim(config, textG.config.projection_dim);
}

function kindOf(config: UNetConfig, hasL: boolean): SdxlKind {
  return config.addition?.timeIds === 5 && !hasL ? 'refiner' : 'base';
}

function openSingleFile(path: string, opts: LoadSdxlOptions): SdxlCheckpointParts {
  assertNotPickle(path);
  const reader = openSafetensors(path);
  const readers = [reader];
  try {
    const tokenizer = loadClipTokenizer(resolveTokenizerDir({ tokenizerDir: opts.tokenizerDir }));
    const gLayout = openClipLayout(reader, BASE_G_PREFIX) ?? openClipLayout(reader, REFINER_G_PREFIX);
    if (!gLayout || gLayout.kind !== 'openclip') {
      throw new CheckpointError(`${path}: no OpenCLIP ViT-bigG text encoder (looked for ${BASE_G_PREFIX}* and ${REFINER_G_PREFIX}*); is this an SDXL checkpoint?`);
    }
    const textG = bigGTower(reader, gLayout, path, opts.textConfigs?.g);
    const textL = gLayout.prefix === BASE_G_PREFIX ? vitLTower(reader, path, tokenizer.eosId, opts.textConfigs?.l) : undefined;
    if (gLayout.prefix === BASE_G_PREFIX && !textL!.store.get('text_model.embeddings.token_embedding.weight')) {
      throw new CheckpointError(`${path}: SDXL base layout but no CLIP ViT-L text encoder under ${BASE_L_PREFIX}`);
    }
    const inferred = opts.unetConfig ? parseUNetConfig(opts.unetConfig) : inferLdmUNetConfig(reader);
    const unetConfig = fitAddition(inferred, textG, path);
    const u = unetWeights(reader, unetConfig);
    const vae = openVaeWeights(path, { scalingFactor: SDXL_LATENT_SCALE, configPath: opts.vaeConfigPath });
    readers.push(vae.reader);
    const p = detectPrediction(reader, 'sd1', unetConfig.inChannels, opts.prediction);
    return {
      path, format: 'single-file', kind: kindOf(unetConfig, !!textL), prediction: p.prediction, predictionReason: p.reason,
      unetConfig, unetStore: u.store, vaeConfig: vae.config, vaeStore: vae.store, textL, textG, tokenizer, readers,
    };
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
}

/** A diffusers tower folder (config.json + model.safetensors) in transformers names. */
function folderTower(path: string, subfolder: string, what: string, padToken: number, readers: SafetensorsReader[]): SdxlTowerParts {
  const files = resolveComponent(path, { subfolder, weightNames: ['model.safetensors'], what });
  const reader = openSafetensors(files.weightsPath);
  readers.push(reader);
  const layout: ClipTextLayout = { kind: 'transformers', prefix: '', textModel: true };
  if (!reader.has('text_model.embeddings.token_embedding.weight')) throw new CheckpointError(`${files.weightsPath}: no CLIP text weights (text_model.*)`);
  const store = ldmClipTextWeights(reader, layout);
  const config = files.configPath ? parseClipTextConfig(readJson(files.configPath, `${what} config`), files.configPath) : inferClipTextConfig(store, layout, files.weightsPath);
  return { config, store, padToken };
}

/** tokenizer_2's pad id: "!" (0) as SDXL ships it, or the EOS when its config pads with <|endoftext|>. */
function folderPadToken(path: string, sub: string, tokenizer: ClipTokenizer, fallback: number): number {
  for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const p = join(path, sub, name);
    if (!existsSync(p)) continue;
    const pad = readJson(p, `${sub}/${name}`).pad_token;
    const text = typeof pad === 'string' ? pad : (pad as { content?: unknown } | undefined)?.content;
    if (typeof text !== 'string') continue;
    const id = text === '<|endoftext|>' ? tokenizer.eosId : tokenizer.tokenIdOf(text);
    if (id === undefined) throw new CheckpointError(`${p}: pad token ${JSON.stringify(text)} is not in the vocabulary`);
    return id;
  }
  return fallback;
}

function openDiffusersFolder(path: string, opts: LoadSdxlOptions): SdxlCheckpointParts {
  const readers: SafetensorsReader[] = [];
  try {
    const unetDir = join(path, 'unet');
    if (!existsSync(unetDir)) throw new CheckpointError(`${path}: diffusers folder has no unet/ subfolder`);
    if (!existsSync(join(path, 'text_encoder_2'))) throw new CheckpointError(`${path}: an SDXL diffusers folder needs text_encoder_2/ (OpenCLIP ViT-bigG)`);
    const tokenizer = loadClipTokenizer(resolveTokenizerDir({ tokenizerDir: opts.tokenizerDir, modelDir: path }));
    const textG = folderTower(path, 'text_encoder_2', 'text encoder 2 (ViT-bigG)', folderPadToken(path, 'tokenizer_2', tokenizer, 0), readers);
    const hasL = existsSync(join(path, 'text_encoder', 'config.json'));
    const textL = hasL ? folderTower(path, 'text_encoder', 'text encoder (ViT-L)', folderPadToken(path, 'tokenizer', tokenizer, tokenizer.eosId), readers) : undefined;
    const unet = openUNetCheckpoint(unetDir, opts.unetConfig);
    readers.push(unet.reader);
    const unetConfig = fitAddition(unet.config, textG, unetDir);
    const u = unetWeights(unet.reader, unetConfig);
    const vae = openVaeWeights(path);
    readers.push(vae.reader);
    const schedPath = join(path, 'scheduler', 'scheduler_config.json');
    const sched = existsSync(schedPath) ? predictionFromSchedulerConfig(readJson(schedPath, 'scheduler config')) : undefined;
    return {
      path, format: 'diffusers', kind: kindOf(unetConfig, hasL), prediction: opts.prediction ?? sched ?? 'eps',
      predictionReason: opts.prediction ? 'option' : sched ? 'scheduler_config.json' : 'default',
      unetConfig, unetStore: u.store, vaeConfig: vae.config, vaeStore: vae.store, textL, textG, tokenizer, readers,
    };
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
}

/** Opens an SDXL checkpoint (single .safetensors file or diffusers folder); nothing is compiled yet. */
export function loadSdxlCheckpoint(path: string, opts: LoadSdxlOptions = {}): SdxlCheckpoint {
  if (!existsSync(path)) throw new CheckpointError(`checkpoint not found: ${path}`);
  const parts = statSync(path).isDirectory() ? openDiffusersFolder(path, opts) : openSingleFile(path, opts);
  return sdxlCheckpointFromParts(parts, opts);
}

/** A checkpoint over already opened parts (tests and benchmarks with random-weight stores). */
export function sdxlCheckpointFromParts(parts: SdxlCheckpointParts, opts: LoadSdxlOptions = {}): SdxlCheckpoint {
  return view(pooledAtFirstEos(parts), opts, [], true);
}

/**
 * Pool at the first EOS id (ComfyUI) rather than at argmax(ids) (transformers 4.27): the same position for
 * ordinary prompts, but textual-inversion slots get ids above the vocabulary and would win the argmax.
 */
function pooledAtFirstEos(parts: SdxlCheckpointParts): SdxlCheckpointParts {
  const eos = parts.tokenizer.eosId;
  const fix = (t: SdxlTowerParts): SdxlTowerParts => ({ ...t, config: { ...t.config, eos_token_id: eos } });
  return { ...parts, textG: fix(parts.textG), textL: parts.textL && fix(parts.textL) };
}

function view(parts: SdxlCheckpointParts, opts: LoadSdxlOptions, loras: readonly LoraSpec[], owner: boolean): SdxlCheckpoint {
  // int8 (a per-model setting: every component compiles quantised); absent keeps the fp32 compile keys.
  const compileOpts: CompileOptions = { provider: opts.provider, threads: opts.threads, fuse: opts.fuse, cacheDir: opts.cacheDir, ...(opts.precision === 'int8' ? { precision: 'int8' as const } : {}) };
  const residency = createResidency(opts.residency ?? 'all');
  const loraReaders = loras.map((l) => ({ spec: l, reader: openSafetensors(l.path) }));
  const report: { unet?: LoraReport; te1?: LoraReport; te2?: LoraReport } = {};
  let unet: UNetRunner | undefined;
  let vae: VaeModel | undefined;
  let text: { key: string; encoders: SdxlTextEncoders } | undefined;
  const embeddings: SdxlEmbeddings = {
    g: embeddingLibrary(opts.embeddingsDirs ?? [], parts.textG.config.hidden_size, 'clip_g'),
    l: parts.textL && embeddingLibrary(opts.embeddingsDirs ?? [], parts.textL.config.hidden_size, 'clip_l'),
  };
  const towerBase: { te1?: WeightStore; te2?: WeightStore } = {};

  const unetStore = (): WeightStore => {
    const active = loraReaders.filter((l) => l.spec.strengthModel !== 0);
    if (!active.length) return parts.unetStore;
    const m = downsampleFactor(parts.unetConfig);
    const names = buildUNetGraph(parts.unetConfig, { batch: 1, height: m, width: m, seqLen: 1 }).params.keys();
    const r = applyLoras(parts.unetStore, active.map((l) => ({ reader: l.reader, strength: l.spec.strengthModel })), unetLoraTarget([...names], ldmLayout(parts.unetConfig)));
    report.unet = r.report;
    return r.store;
  };
  const towerStore = (tower: SdxlTowerParts, which: 'te1' | 'te2'): WeightStore => {
    const active = loraReaders.filter((l) => l.spec.strengthClip !== 0);
    if (!active.length) return tower.store;
    const names = clipTextGraph(tower.config, { batch: 1, seqLen: 1, withProjection: which === 'te2' }).params.keys();
    const r = applyLoras(tower.store, active.map((l) => ({ reader: l.reader, strength: l.spec.strengthClip })), sdxlTextLoraTarget([...names], which, parts.kind));
    report[which] = r.report;
    return r.store;
  };

  return {
    path: parts.path,
    format: parts.format,
    family: 'sdxl',
    kind: parts.kind,
    prediction: parts.prediction,
    predictionReason: parts.predictionReason,
    unetConfig: parts.unetConfig,
    vaeConfig: parts.vaeConfig,
    textL: parts.textL && { config: parts.textL.config, padToken: parts.textL.padToken },
    textG: { config: parts.textG.config, padToken: parts.textG.padToken },
    tokenizer: parts.tokenizer,
    vaeScaleFactor: vaeScaleFactor(parts.vaeConfig),
    latentScale: parts.vaeConfig.scaling_factor,
    latentMultiple: downsampleFactor(parts.unetConfig),
    isInpaint: parts.unetConfig.inChannels === parts.vaeConfig.latent_channels * 2 + 1,
    embeddings,
    weightBytes: parts.unetStore.get('conv_in.bias')?.sourceDType === 'f16' ? 2 : 4,
    loras,
    async useUNet() {
      unet ??= unetRunner(parts.unetConfig, unetStore(), compileOpts);
      await residency.use('unet', unet);
      return unet;
    },
    async useTextEncoders(names = []) {
      const key = [...names].sort().join('|');
      if (!text || text.key !== key) {
        if (text) {
          await text.encoders.g.release();
          await text.encoders.l?.release();
        }
        const tower = (t: SdxlTowerParts, which: 'te1' | 'te2', lib: EmbeddingLibrary) => {
          const ext = extendTokenTable((towerBase[which] ??= towerStore(t, which)), names.map((n) => lib.get(n)));
          return { encoder: clipTextEncoder({ ...t.config, vocab_size: ext.vocabSize }, ext.store, compileOpts), idOf: ext.idOf };
        };
        const g = tower(parts.textG, 'te2', embeddings.g);
        const l = parts.textL && embeddings.l ? tower(parts.textL, 'te1', embeddings.l) : undefined;
        const idOf = (which: 'l' | 'g', name: string, vector: number) => {
          const t = which === 'g' ? g : l;
          if (!t) throw new CheckpointError('this SDXL checkpoint has no ViT-L text encoder');
          return t.idOf(name, vector);
        };
        text = { key, encoders: { g: g.encoder, l: l?.encoder, idOf } };
      }
      const both = text.encoders;
      await residency.use('text', { release: async () => { await both.g.release(); await both.l?.release(); } });
      return both;
    },
    async useVae() {
      vae ??= vaeModel(parts.vaeConfig, parts.vaeStore, compileOpts);
      await residency.use('vae', vae);
      return vae;
    },
    loraReport: () => report,
    withLoras: (more) => view(parts, opts, more, false),
    async release() {
      await residency.releaseAll();
      if (text) {
        await text.encoders.g.release();
        await text.encoders.l?.release();
      }
      for (const l of loraReaders) l.reader.close();
      if (owner) for (const r of parts.readers) r.close();
    },
  };
}
