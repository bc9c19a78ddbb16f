// VAE training from scratch on synthetic character pictures, on a VAE small enough for a test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseVaeConfig } from '../models/vae/config.ts';
import { loadVae } from '../models/vae/loadVae.ts';
import { runTraining } from './trainLoop.ts';
import { evaluateVaeFolder, saveVaeFolder, vaeTrainingTask } from './vaeTraining.ts';

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
});
