import { describe, expect, it } from 'vitest';
import { UsageError } from '../command.ts';
import { trainCommand } from './train.ts';
import { sdroTrainingOptions } from './trainSdro.ts';

describe('inkflow train sdro options', () => {
  it('parses the options into the training request', () => {
    const o = sdroTrainingOptions(['--model', 'm', '--data', 'd', '-o', 'out', '--steps', '7', '--threshold', '0.85', '--min-line-area', '0.01', '--batch', '2', '--lr', '2e-5', '--ema', '0.99']);
    expect(o).toMatchObject({ model: 'm', data: 'd', steps: 7, threshold: 0.85, minLineArea: 0.01, batch: 2, lr: 2e-5, emaDecay: 0.99, optimizer: 'adamw', schedule: 'constant_with_warmup' });
    expect(o.runDir).toBe(`${o.output}.run`);
  });

  it('refuses missing or bad options with usage errors', async () => {
    expect(() => sdroTrainingOptions(['--model', 'm', '--data', 'd', '-o', 'o'])).toThrow(/--steps is required/);
    expect(() => sdroTrainingOptions(['--model', 'm', '--data', 'd', '-o', 'o', '--steps', '0'])).toThrow(UsageError);
    expect(() => sdroTrainingOptions(['--model', 'm', '--data', 'd', '-o', 'o', '--steps', '3', '--threshold', '2'])).toThrow(/cosine similarity/);
    expect(() => sdroTrainingOptions(['--model', 'm', '--data', 'd', '-o', 'o', '--steps', '3', '--optimizer', 'lion'])).toThrow(UsageError);
    await expect(trainCommand.run(['dreambooth'])).rejects.toThrow(/available: lora, sdro/);
    expect(trainCommand.help).toMatch(/inkflow train sdro --model SDRO_DIR/);
  });
});
