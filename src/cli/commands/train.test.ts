// `inkflow train lora` end to end on the tiny checkpoint: a kohya dataset folder in, a kohya LoRA out
// (ss_* metadata, loss plot, log, checkpoints), which the checkpoint loader merges into every
// attention projection; an existing output is refused; a finished run re-run resumes and stops.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImage, decodeImage, encodePng, readPngText } from '../../imaging/image.ts';
import { writeTinyDiffusersCheckpoint } from '../../pipelines/generate/tinyCheckpoint.ts';
import { loadCheckpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { readLog } from '../../train/trainLoop.ts';
import { trainCommand } from './train.ts';
import { UsageError } from '../command.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-train-'));
process.env.INKFLOW_CACHE = join(dir, 'cache');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writeDataset(root: string): Promise<string> {
  const concept = join(root, 'img', '5_ohwx doll');
  mkdirSync(concept, { recursive: true });
  const colours: [number, number, number][] = [[220, 40, 40], [40, 60, 220], [240, 200, 40]];
  for (const [k, [r, g, b]] of colours.entries()) {
    const img = createImage(64, 64, 3, 255);
    const data = img.data as Uint8Array;
    for (let y = 16; y < 56; y++) for (let x = 20 + k * 4; x < 44; x++) data.set([r, g, b], (y * 64 + x) * 3);
    writeFileSync(join(concept, `doll${k}.png`), await encodePng(img));
    if (k < 2) writeFileSync(join(concept, `doll${k}.txt`), `ohwx, doll, ${k ? 'blue' : 'red'} dress, standing`);
  }
  return root;
}

describe('inkflow train lora', () => {
  it('trains a kohya LoRA from a kohya folder that the checkpoint loader applies', async () => {
    const model = await writeTinyDiffusersCheckpoint(join(dir, 'tiny'));
    const data = await writeDataset(join(dir, 'data'));
    const out = join(dir, 'ohwx.safetensors');
    const args = ['lora', '--model', model, '--data', data, '-o', out, '--steps', '4', '--resolution', '64', '--rank', '4', '--alpha', '2',
      '--lr', '1e-3', '--save-every', '2', '--shuffle-caption', '--keep-tokens', '1', '--caption-dropout', '0.1', '--min-snr-gamma', '5',
      '--noise-offset', '0.05', '--threads', '1', '--seed', '3', '--sample-prompt', 'ohwx, doll', '--sample-steps', '2'];
    expect(await trainCommand.run(args)).toBe(0);

    const r = openSafetensors(out);
    try {
      expect(r.metadata.ss_network_module).toBe('networks.lora');
      expect(r.metadata.ss_network_dim).toBe('4');
      expect(r.metadata.ss_network_alpha).toBe('2');
      expect(r.metadata.ss_num_train_images).toBe('3');
      const freq = JSON.parse(r.metadata.ss_tag_frequency);
      expect(freq['5_ohwx doll']).toMatchObject({ ohwx: 2, doll: 2, 'red dress': 1, 'blue dress': 1, 'ohwx doll': 1 });
      expect([...r.tensors.keys()].filter((k) => k.endsWith('.lora_down.weight')).length).toBeGreaterThan(0);
    } finally {
      r.close();
    }
    const run = `${out.replace(/\.safetensors$/, '')}.run`;
    expect(readLog(run).map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const f of ['config.json', 'loss.png', 'model.safetensors', 'checkpoints/step-00000004/state.json', 'loras/ohwx-000002.safetensors', 'loras/ohwx-000004.safetensors']) expect(existsSync(join(run, f)), f).toBe(true);
    for (const step of ['000002', '000004']) {
      const png = readFileSync(join(run, 'samples', `step-${step}.png`));
      expect(JSON.parse(readPngText(png).inkflow)).toMatchObject({ prompt: 'ohwx, doll', step: Number(step) });
      const img = await decodeImage(png, 3);
      expect([img.width, img.height]).toEqual([64, 64]);
    }
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).task).toMatchObject({ kind: 'lora', rank: 4, alpha: 2, images: 3 });

    const ckpt = loadCheckpoint(model, { threads: 1 }).withLoras([{ path: out, strengthModel: 1, strengthClip: 1 }]);
    try {
      await ckpt.useUNet();
      const rep = ckpt.loraReport().unet!;
      expect(rep.unmatched).toEqual([]);
      expect(rep.patched.length).toBeGreaterThan(0);
      expect(rep.patched.every((p) => /attn[12]\.to_(q|k|v|out\.0)\.weight$/.test(p))).toBe(true);
    } finally {
      await ckpt.release();
    }

    await expect(trainCommand.run(args)).rejects.toThrow(/exists/);
    const log: string[] = [];
    const orig = console.log;
    console.log = (m: string) => log.push(m);
    try {
      expect(await trainCommand.run([...args, '--overwrite'])).toBe(0);
    } finally {
      console.log = orig;
    }
    expect(log.join('\n')).toContain('resumed from step 4');
  }, 120_000);

  it('LoCon + text-encoder LoRA + two images per micro-step: kohya conv and lora_te_ keys the loader applies to both models', async () => {
    const model = await writeTinyDiffusersCheckpoint(join(dir, 'tiny-te'));
    const data = await writeDataset(join(dir, 'data-te'));
    const out = join(dir, 'te.safetensors');
    const args = ['lora', '--model', model, '--data', data, '-o', out, '--steps', '2', '--resolution', '64', '--rank', '4', '--conv-rank', '2', '--conv-alpha', '1',
      '--train-text-encoder', '--batch-size', '2', '--lr', '1e-3', '--threads', '1', '--seed', '3'];
    expect(await trainCommand.run(args)).toBe(0);
    const r = openSafetensors(out);
    try {
      expect(r.metadata.ss_network_train_unet_only).toBe('False');
      expect(JSON.parse(r.metadata.ss_network_args)).toEqual({ conv_dim: '2', conv_alpha: '1' });
      const keys = [...r.tensors.keys()];
      expect(keys).toContain('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight');
      expect(keys).toContain('lora_te_text_model_encoder_layers_0_mlp_fc2.lora_up.weight');
      const conv = keys.find((k) => /^lora_unet_.*resnets_0_conv1\.lora_down\.weight$/.test(k))!;
      expect(r.info(conv).shape.slice(2)).toEqual([3, 3]);
      expect(keys.every((k) => k.startsWith('lora_unet_') || k.startsWith('lora_te_'))).toBe(true);
    } finally {
      r.close();
    }
    expect(JSON.parse(readFileSync(join(`${out.replace(/\.safetensors$/, '')}.run`, 'config.json'), 'utf8')).task).toMatchObject({ textEncoder: true, batchSize: 2, convRank: 2, convAlpha: 1 });
    const ckpt = loadCheckpoint(model, { threads: 1 }).withLoras([{ path: out, strengthModel: 1, strengthClip: 1 }]);
    try {
      await ckpt.useUNet();
      await ckpt.useTextEncoder();
      const rep = ckpt.loraReport();
      // Each model takes its own modules; the other model's modules are the only ones it reports unmatched.
      expect(rep.unet!.unmatched.every((u) => u.includes('lora_te_'))).toBe(true);
      expect(rep.text!.unmatched.every((u) => u.includes('lora_unet_'))).toBe(true);
      expect(rep.unet!.patched.some((p) => p.endsWith('resnets.0.conv1.weight'))).toBe(true);
      expect(rep.text!.patched).toContain('text_model.encoder.layers.0.self_attn.q_proj.weight');
    } finally {
      await ckpt.release();
    }
  }, 120_000);

  it('explains usage errors', async () => {
    await expect(trainCommand.run(['dreambooth'])).rejects.toThrow(/unknown target "dreambooth"/);
    await expect(trainCommand.run(['lora', '--model', 'm', '--data', 'd', '-o', 'o.safetensors'])).rejects.toThrow(/--steps is required/);
    await expect(trainCommand.run(['lora', '--model', 'm', '--data', 'd', '-o', 'o', '--steps', '2', '--optimizer', 'lion'])).rejects.toThrow(UsageError);
    await expect(trainCommand.run(['lora', '--model', 'm', '--data', 'd', '-o', 'o', '--steps', '2', '--resolution', '100'])).rejects.toThrow(/multiple of 64/);
    expect(trainCommand.help).toContain('<repeats>_<trigger> <class>');
  });
});
