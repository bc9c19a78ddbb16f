// Golden handler for UNet model folders (config.json `_class_name` UNet2DConditionModel or SDRO's
// UNet2DDobuleConditionModel, plus io.json): loads the folder with loadUNet exactly as a user's checkpoint,
// feeds every case's recorded inputs and checks every `caseN.out.*`; any further .safetensors in the
// folder (e.g. the LDM single-file variant) must give the same outputs. For case0 it also checks each
// block on its own, fed with the previous block's trace, so a divergence shows where it starts.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { fileExists, readF32, readJson, expectClose } from '../io.ts';
import { createGraph, type Graph, type Tensor } from '../../../src/graph/graph.ts';
import * as op from '../../../src/graph/ops.ts';
import * as nn from '../../../src/graph/nn.ts';
import { compile } from '../../../src/runtime/session.ts';
import { UNET_CLASSES, type UNetConfig } from '../../../src/models/unet/config.ts';
import { loadUNet, openUNetCheckpoint, unetWeights, UNET_WEIGHT_FILES, type UNetForwardInputs } from '../../../src/models/unet/load.ts';
import { unetHead, unetStem, unetTimeEmbedding } from '../../../src/models/unet/unet.ts';
import { timestepEmbedding } from '../../../src/models/unet/timestepEmbedding.ts';
import { downBlock } from '../../../src/models/unet/downBlock.ts';
import { midBlock } from '../../../src/models/unet/midBlock.ts';
import { upBlock } from '../../../src/models/unet/upBlock.ts';

interface TensorEntry { file: string; dtype: string; shape: number[]; max_abs: number }
interface IoCase { scalars?: Record<string, number>; tensors: Record<string, TensorEntry> }
interface Io { cases: Record<string, IoCase> }

/** Relative tolerance of the issue: 1e-4 × output scale (at least 1). */
const tolFor = (expected: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  return 1e-4 * Math.max(1, m);
};

const INPUT_NAMES: Record<string, keyof UNetForwardInputs> = {
  sample: 'sample', timestep: 'timestep', encoder_hidden_states: 'encoderHiddenStates', blueprint: 'blueprint',
  controlnet_cond: 'blueprint', text_embeds: 'textEmbeds', time_ids: 'timeIds',
};

function caseInputs(dir: string, name: string, c: IoCase): UNetForwardInputs {
  const inputs: Partial<Record<keyof UNetForwardInputs, unknown>> = {};
  for (const [key, value] of Object.entries(c.scalars ?? {})) {
    const field = INPUT_NAMES[key];
    if (!field) throw new Error(`${name}: unknown scalar input "${key}"`);
    inputs[field] = value;
  }
  for (const [key, t] of Object.entries(c.tensors)) {
    const m = /^case\d+\.in\.(.+)$/.exec(key);
    if (!m) continue;
    const field = INPUT_NAMES[m[1]];
    if (!field) throw new Error(`${name}: unknown input tensor "${m[1]}"`);
    inputs[field] = readF32(join(dir, t.file));
  }
  return inputs as UNetForwardInputs;
}

function shapesOf(c: IoCase, name: string) {
  const s = c.tensors[`${name}.in.sample`].shape;
  const e = c.tensors[`${name}.in.encoder_hidden_states`].shape;
  return { batch: s[0], height: s[2], width: s[3], seqLen: e[1] };
}

function weightFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
}

async function checkCases(dir: string, io: Io, path: string, label: string): Promise<void> {
  for (const [name, c] of Object.entries(io.cases)) {
    const unet = await loadUNet(path, { ...shapesOf(c, name), cacheDir: false });
    try {
      const out = await unet.forward(caseInputs(dir, name, c));
      const outs = Object.entries(c.tensors).filter(([k]) => k.startsWith(`${name}.out.`));
      expect(outs.length, `${name} has outputs`).toBeGreaterThan(0);
      for (const [key, t] of outs) {
        if (key !== `${name}.out.sample`) throw new Error(`${label}: no UNet output corresponds to ${key}`);
        const expected = readF32(join(dir, t.file));
        expectClose(`${label} ${key}`, out, expected, tolFor(expected));
      }
    } finally {
      await unet.release();
    }
  }
}

/**
 * One graph whose inputs are case0's traces and whose outputs are every traced block, each computed from
 * the previous block's trace. Up blocks take their skips from down blocks run on traced inputs.
 */
function blockGraph(config: UNetConfig, traces: Record<string, number[]>, ins: Record<string, number[]>): { g: Graph; outputs: string[] } {
  const g = createGraph('unet_blocks');
  const tr = (k: string) => g.input(`trace.${k}`, 'f32', traces[k]);
  const has = (k: string) => k in traces;
  const inp = (k: string) => g.input(`in.${k}`, 'f32', ins[k]);
  const outputs: string[] = [];
  const out = (k: string, t: Tensor) => {
    if (!has(k)) return;
    g.output(`block.${k}`, t);
    outputs.push(k);
  };
  const ctx = inp('encoder_hidden_states');
  const b = ins.sample[0];
  const timestep = g.input('in.timestep', 'f32', [b]);
  const textEmbeds = ins.text_embeds ? inp('text_embeds') : undefined;
  const timeIds = ins.time_ids ? inp('time_ids') : undefined;
  const time = unetTimeEmbedding(config, timestep, textEmbeds, timeIds);
  out('time_proj', time.proj);
  if (has('time_proj')) {
    // time_embedding from the traced projection.
    const proj = tr('time_proj');
    out('time_embedding', g.within('time_embedding', () => timestepEmbedding(proj, config.time.projDim, config.time.embedDim)));
  }
  if (time.added) out('add_embedding', time.added);
  const emb = has('add_embedding') ? op.add(tr('time_embedding'), tr('add_embedding')) : tr('time_embedding');

  const stem = unetStem(config, inp('sample'), ins.blueprint ? inp('blueprint') : undefined);
  out('conv_in', stem.convIn);
  if (stem.condEmbedding) out('controlnet_cond_embedding', stem.condEmbedding);
  let x = has('controlnet_cond_embedding') ? op.add(tr('conv_in'), tr('controlnet_cond_embedding')) : tr('conv_in');

  let skips: Tensor[] = [x];
  config.down.forEach((level, i) => {
    const input = i === 0 ? x : tr(`down_blocks.${i - 1}`);
    const r = g.within('down_blocks', () => g.within(i, () => downBlock(input, emb, ctx, level, config)));
    skips.push(...r.skips);
    out(`down_blocks.${i}`, r.out);
  });
  const midIn = tr(`down_blocks.${config.down.length - 1}`);
  out('mid_block', g.within('mid_block', () => midBlock(midIn, emb, ctx, config)));
  config.up.forEach((level, i) => {
    const mine = skips.slice(skips.length - level.layers);
    skips = skips.slice(0, skips.length - level.layers);
    const size = level.upsample ? ([skips[skips.length - 1].shape[2], skips[skips.length - 1].shape[3]] as const) : undefined;
    const input = tr(i === 0 ? 'mid_block' : `up_blocks.${i - 1}`);
    out(`up_blocks.${i}`, g.within('up_blocks', () => g.within(i, () => upBlock(input, mine, emb, ctx, level, config, size))));
  });
  x = tr(`up_blocks.${config.up.length - 1}`);
  const head = unetHead(config, x);
  out('conv_norm_out', head.norm);
  // conv_out from the traced norm when there is one, else from the last up block.
  const convOut = has('conv_norm_out')
    ? nn.conv2d(nn.silu(tr('conv_norm_out')), 'conv_out', config.blockOutChannels[0], config.outChannels, config.convOutKernel)
    : head.out;
  out('conv_out', convOut);
  return { g, outputs };
}

async function checkBlocks(dir: string, io: Io): Promise<void> {
  const c = io.cases.case0;
  const traces: Record<string, number[]> = {};
  const ins: Record<string, number[]> = {};
  for (const [key, t] of Object.entries(c.tensors)) {
    let m = /^case0\.trace\.(.+)$/.exec(key);
    if (m) traces[m[1]] = t.shape;
    m = /^case0\.in\.(.+)$/.exec(key);
    if (m) ins[m[1]] = t.shape;
  }
  const ck = openUNetCheckpoint(dir);
  try {
    const { g, outputs } = blockGraph(ck.config, traces, ins);
    const unused = Object.keys(traces).filter((k) => !outputs.includes(k));
    expect(unused, 'every trace is checked').toEqual([]);
    const model = await compile(g, unetWeights(ck.reader, ck.config).store, { cacheDir: false });
    try {
      const feeds: Record<string, Float32Array> = {};
      for (const name of g.inputNames()) {
        const [kind, key] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
        if (name === 'in.timestep') {
          const t = c.scalars?.timestep;
          feeds[name] = t !== undefined ? new Float32Array(ins.sample[0]).fill(t) : readF32(join(dir, c.tensors['case0.in.timestep'].file));
        } else {
          feeds[name] = readF32(join(dir, c.tensors[`case0.${kind}.${key}`].file));
        }
      }
      const result = await model.run(feeds);
      for (const k of outputs) {
        const expected = readF32(join(dir, c.tensors[`case0.trace.${k}`].file));
        expectClose(`block ${k}`, result[`block.${k}`].data as Float32Array, expected, tolFor(expected));
      }
    } finally {
      await model.release();
    }
  } finally {
    ck.reader.close();
  }
}

export const handler: GoldenHandler = {
  name: 'unet',
  recognise(dir) {
    if (!fileExists(join(dir, 'config.json')) || !fileExists(join(dir, 'io.json'))) return false;
    const cfg = readJson<{ _class_name?: string }>(join(dir, 'config.json'));
    return (UNET_CLASSES as readonly string[]).includes(cfg._class_name ?? '');
  },
  register(dir) {
    const io = readJson<Io>(join(dir, 'io.json'));
    it('every case output (model folder loaded like a user checkpoint)', () => checkCases(dir, io, dir, 'folder'));
    // Other weight files in the folder (the LDM single-file variant) must load into the same graph.
    const main = UNET_WEIGHT_FILES.find((f) => fileExists(join(dir, f)));
    for (const f of weightFilesIn(dir).filter((name) => name !== main)) {
      it(`every case output from ${f} (single file; config.json beside it)`, () => checkCases(dir, io, join(dir, f), f));
    }
    if (io.cases.case0 && Object.keys(io.cases.case0.tensors).some((k) => k.startsWith('case0.trace.'))) {
      it('case0 blocks, each fed with the previous block\'s trace', () => checkBlocks(dir, io));
    }
  },
};
