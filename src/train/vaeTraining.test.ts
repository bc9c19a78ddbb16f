// VAE training from scratch on synthetic character pictures, on a VAE small enough for a test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseVaeConfig } from '../models/vae/config.ts';
import { loadVae } from '../models/vae/loadVae.ts';
import { runTraining } from './trainLoop.ts';
import { paramShapes } from './initParams.ts';
import { evaluateVaeFolder, isVaeDecoderParam, readVaeParams, saveVaeFolder, vaeTrainingGraph, vaeTrainingTask } from './vaeTraining.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-vae-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('VAE training', () => {
  it('lowers the reconstruction loss and saves a folder the VAE loader reads', async () => {
    const config = parseVaeConfig({ block_out_channels: [8, 16], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, mid_block_add_attention: false });
    const setup = { config, size: 32, batch: 2, klWeight: 1e-5 };
    const task = await vaeTrainingTask(setup, { initSeed: 3, threads: 1, cacheDir: false });
    try {
      const res = await runTraining(join(dir, 'run'), {
        steps: 30, optimizer: { name: 'adamw', weightDecay: 0 }, lr: 3e-3, schedule: 'constant', checkpointEvery: 30, seed: 4,
      }, task);
      const mean = (xs: { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
      expect(mean(res.losses.slice(-5))).toBeLessThan(0.6 * mean(res.losses.slice(0, 5)));
      const out = join(dir, 'vae');
      await saveVaeFolder(out, config, res.params, task.shapes);
      const vae = await loadVae(out, { cacheDir: false, threads: 1 });
      expect(vae.scaleFactor).toBe(2);
      const enc = await vae.encode({ shape: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) });
      expect(enc.mean.shape).toEqual([1, 4, 16, 16]);
      await vae.release();
      const ev = await evaluateVaeFolder(out, 32, 2, { cacheDir: false, threads: 1 });
      expect(ev.psnr).toBeGreaterThan(8);
      expect(ev.latentStd).toBeGreaterThan(0);
    } finally {
      await task.release();
    }
  });

  it('fine-tunes only the decoder from saved weights: the encoder, and so the latents, stay bit for bit', async () => {
    const config = parseVaeConfig({ block_out_channels: [8, 16], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, mid_block_add_attention: false });
    const setup = { config, size: 32, batch: 2, klWeight: 1e-5 };
    const base = await vaeTrainingTask(setup, { initSeed: 5, threads: 1, cacheDir: false });
    const start = base.initialParams();
    await base.release();
    await expect(vaeTrainingTask(setup, { initSeed: 5, threads: 1, cacheDir: false, trainable: isVaeDecoderParam })).rejects.toThrow(/starting weights/);
    const task = await vaeTrainingTask(setup, { initSeed: 5, threads: 1, cacheDir: false, start, trainable: isVaeDecoderParam });
    try {
      const names = Object.keys(task.shapes);
      expect(names.length).toBeGreaterThan(0);
      expect(names.every(isVaeDecoderParam)).toBe(true);
      expect(names.length).toBeLessThan(Object.keys(start).length);
      const res = await runTraining(join(dir, 'run-decoder'), {
        steps: 20, optimizer: { name: 'adamw', weightDecay: 0 }, lr: 3e-3, schedule: 'constant', checkpointEvery: 20, seed: 6,
      }, task);
      const mean = (xs: { loss: number }[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
      expect(mean(res.losses.slice(-5))).toBeLessThan(mean(res.losses.slice(0, 5)));
      const before = join(dir, 'vae-before');
      const after = join(dir, 'vae-after');
      const graphShapes = paramShapes(vaeTrainingGraph(setup));
      await saveVaeFolder(before, config, start, graphShapes);
      await saveVaeFolder(after, config, { ...start, ...res.params }, graphShapes);
      const reread = readVaeParams(after, vaeTrainingGraph(setup));
      for (const [name, v] of Object.entries(reread)) {
        if (isVaeDecoderParam(name)) continue;
        expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(start[name].buffer, start[name].byteOffset, start[name].byteLength))).toBe(true);
      }
      const image = { shape: [1, 3, 32, 32], data: Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i / 7)) };
      const [a, b] = [await loadVae(before, { cacheDir: false, threads: 1 }), await loadVae(after, { cacheDir: false, threads: 1 })];
      const [za, zb] = [await a.encode(image), await b.encode(image)];
      expect(zb.mean.data).toEqual(za.mean.data);
      const [xa, xb] = [await a.decode(za.mean), await b.decode(zb.mean)];
      expect(xb.data).not.toEqual(xa.data);
      await a.release();
      await b.release();
    } finally {
      await task.release();
    }
  });
});
