// A training process killed between checkpoints resumes from the newest one and writes the loss curve
// (and final parameters) an uninterrupted run writes: the rng state, optimiser slots, EMA and
// parameters all come back from disk. The kill is real: a child process gets SIGKILL mid-run.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { runTraining, readLog, type TrainLoopConfig } from './trainLoop.ts';
import { listCheckpoints } from './checkpoint.ts';
import { openSafetensors } from '../weights/safetensors.ts';
import { tinyTrainTask } from '../../test/tinyTrainTask.ts';

const CONFIG: TrainLoopConfig = {
  steps: 24,
  gradAccumulation: 2,
  optimizer: { name: 'adamw', weightDecay: 0.01 },
  lr: 0.02,
  schedule: 'cosine',
  warmupSteps: 3,
  clipGradNorm: 1,
  emaDecay: 0.9,
  checkpointEvery: 4,
  seed: 7,
};

const root = resolve(import.meta.dirname, '../..');

function readF32(path: string): Record<string, number[]> {
  const r = openSafetensors(path);
  try {
    return Object.fromEntries([...r.tensors.keys()].map((k) => [k, Array.from(r.readF32(k))]));
  } finally {
    r.close();
  }
}

describe('training runs', () => {
  it('lowers the loss, writes config, log, checkpoints, model, EMA and a loss plot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-train-'));
    try {
      const task = await tinyTrainTask();
      const res = await runTraining(dir, CONFIG, task);
      await task.model.release();
      const losses = res.losses.map((l) => l.loss);
      expect(losses).toHaveLength(24);
      const first = (losses[0] + losses[1] + losses[2]) / 3;
      const last = (losses[21] + losses[22] + losses[23]) / 3;
      expect(last).toBeLessThan(0.6 * first);
      expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).train.steps).toBe(24);
      expect(listCheckpoints(join(dir, 'checkpoints'))).toEqual([16, 20, 24]);
      const model = readF32(join(dir, 'model.safetensors'));
      expect(Object.keys(model).sort()).toEqual(Object.keys(task.shapes).sort());
      const ema = readF32(join(dir, 'model_ema.safetensors'));
      expect(ema['conv1.weight']).not.toEqual(model['conv1.weight']);
      const meta = await sharp(join(dir, 'loss.png')).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 800, 450]);
      await expect(runTraining(dir, { ...CONFIG, lr: 0.03 }, task)).rejects.toThrow(/different config/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes after SIGKILL with the same loss curve and final weights as an uninterrupted run', async () => {
    const a = mkdtempSync(join(tmpdir(), 'inkflow-train-a-'));
    const b = mkdtempSync(join(tmpdir(), 'inkflow-train-b-'));
    try {
      const task = await tinyTrainTask();
      await runTraining(a, CONFIG, task);

      const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/trainChild.ts'), b, JSON.stringify(CONFIG), '150'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      // Kill once checkpoint 8 exists and the child is past it (steps 9+ are lost and must be redone).
      await new Promise<void>((done, fail) => {
        child.stdout.on('data', (d: Buffer) => {
          if (/step (9|1\d)\b/.test(d.toString()) && listCheckpoints(join(b, 'checkpoints')).includes(8)) {
            child.kill('SIGKILL');
            done();
          }
        });
        child.on('exit', () => fail(new Error(`child exited before it could be killed: ${stderr}`)));
      });
      await exited;
      const killedAt = readLog(b).length;
      expect(killedAt).toBeGreaterThan(8);
      expect(killedAt).toBeLessThan(24);
      expect(existsSync(join(b, 'model.safetensors'))).toBe(false);

      const res = await runTraining(b, CONFIG, task);
      await task.model.release();
      expect(res.resumedFrom).toBeGreaterThanOrEqual(8);
      expect(res.resumedFrom).toBeLessThan(24);
      const la = readLog(a);
      const lb = readLog(b);
      expect(lb.map((l) => l.step)).toEqual(la.map((l) => l.step));
      for (let i = 0; i < la.length; i++) {
        expect(Math.abs(lb[i].loss - la[i].loss), `step ${i + 1}`).toBeLessThanOrEqual(1e-6 * Math.abs(la[i].loss));
        expect(lb[i].lr).toBe(la[i].lr);
      }
      for (const file of ['model.safetensors', 'model_ema.safetensors']) {
        const wa = readF32(join(a, file));
        const wb = readF32(join(b, file));
        for (const k of Object.keys(wa)) expect(Math.max(...wa[k].map((v, i) => Math.abs(v - wb[k][i]))), `${file} ${k}`).toBeLessThan(1e-6);
      }
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  }, 60_000);
});
