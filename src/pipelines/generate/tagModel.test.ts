// The tag-conditioned text-to-image model end to end at toy size: the joint training graph (tag text
// tower → UNet → loss) trains both parts, the saved diffusers folder opens through loadCheckpoint with
// the tag tokenizer, and the normal generate() path runs it with the prompt mattering.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomWeights } from '../../graph/randomWeights.ts';
import { parseVaeConfig } from '../../models/vae/config.ts';
import { vaeDecodeGraph } from '../../models/vae/decoder.ts';
import { vaeEncodeGraph } from '../../models/vae/encoder.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';
import { tagTokenizer, tagVocab } from '../../models/tokenizer/tagTokenizer.ts';
import { loadCheckpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { generate } from './generate.ts';
import { alphasCumprod, makeBetas } from '../../sampling/diffusers/betas.ts';
import { compileTraining } from '../../train/trainingGraph.ts';
import { diffusionBatch } from '../../train/diffusionObjective.ts';
import { optimizerStep, createOptimizerState } from '../../train/optimizer.ts';
import { createTrainRng } from '../../train/trainRng.ts';
import { initialTextToImageParams, parseTagModelConfigs, saveTagModelFolder, tagTextConfigJson, tagUNetConfigJson, textToImageTrainingGraph } from '../../train/textToImageModel.ts';

const VAE = { _class_name: 'AutoencoderKL', block_out_channels: [8, 8], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, mid_block_add_attention: false, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] };

/** A random-weight tiny VAE folder (factor 2): the toy model's latent space. */
async function writeRandomVae(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const cfg = parseVaeConfig(VAE);
  const tensors = [];
  for (const g of [vaeEncodeGraph(cfg, [1, 3, 16, 16]), vaeDecodeGraph(cfg, [1, 4, 8, 8])]) {
    const store = randomWeights(g, { seed: 2, std: 0.1 });
    for (const [name, id] of g.params) {
      const p = store.get(name)!;
      tensors.push({ name, dtype: 'F32' as const, shape: [...g.values[id].shape], data: new Float32Array(p.bytes.slice().buffer) });
    }
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(VAE));
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
}

describe('tag-conditioned text-to-image model', () => {
  it('trains text tower and UNet together and runs through loadCheckpoint + generate()', async () => {
    const vocab = tagVocab(['red', 'blue', 'hair', 'shirt']);
    const tok = tagTokenizer(vocab);
    const textJson = tagTextConfigJson(vocab.tokens.length, tok.eosId, 16);
    const unetJson = tagUNetConfigJson(4, 16, [8, 16, 16]);
    const cfg = parseTagModelConfigs(unetJson, textJson);
    const graph = textToImageTrainingGraph(cfg, 2, 8, 8);
    const { params, shapes } = initialTextToImageParams(graph, 1);
    const names = Object.keys(shapes);
    expect(names.some((n) => n.startsWith('text_encoder.text_model.'))).toBe(true);
    expect(names.some((n) => n.startsWith('unet.down_blocks.1.attentions.0.'))).toBe(true);
    const model = await compileTraining(graph, 'loss', names, { get: () => undefined, keys: () => [], fingerprint: () => 'none' }, { cacheDir: false, threads: 1 });

    // Two captions, two latents: the model must tell them apart through the text tower.
    const ids = new BigInt64Array(2 * 77);
    ['red hair', 'blue shirt'].forEach((c, b) => tok.tokenize77(c).inputIds.forEach((t, j) => { ids[b * 77 + j] = BigInt(t); }));
    const x0 = Float32Array.from({ length: 2 * 4 * 64 }, (_, i) => (i < 256 ? 1 : -1) * (0.5 + 0.5 * Math.sin(i * 0.3)));
    const abar = alphasCumprod(makeBetas({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000, trained_betas: null }));
    const evalBatch = diffusionBatch(x0, 2, 4, abar, createTrainRng(77), { prediction: 'eps' });
    const feeds = (b: typeof evalBatch) => ({ input_ids: { dtype: 'i64' as const, shape: [2, 77], data: ids }, sample: b.noisy, timestep: b.timesteps, target: b.target, weights: b.weights });
    const before = await model.step(params, feeds(evalBatch));
    const opt = { name: 'adamw' as const, weightDecay: 0 };
    const state = createOptimizerState(opt, params);
    const rng = createTrainRng(5);
    for (let s = 0; s < 40; s++) {
      const r = await model.step(params, feeds(diffusionBatch(x0, 2, 4, abar, rng, { prediction: 'eps' })));
      optimizerStep(opt, state, params, r.grads, 3e-3);
    }
    const after = await model.step(params, feeds(evalBatch));
    expect(after.loss).toBeLessThan(0.8 * before.loss);
    const tokenRow = (g: Float32Array, token: number) => g.subarray(token * 16, (token + 1) * 16);
    const embGrad = after.grads['text_encoder.text_model.embeddings.token_embedding.weight'];
    // Gradients reach the token embeddings of the words used, and only those (plus BOS/EOS). (Not at
    // step 0: the UNet's conv_out starts at zero, so nothing behind it gets a gradient yet.)
    expect(tokenRow(embGrad, vocab.tokens.indexOf('red')).some((v) => v !== 0)).toBe(true);
    expect(tokenRow(embGrad, vocab.tokens.indexOf('<unk>')).every((v) => v === 0)).toBe(true);

    await model.release();

    const dir = mkdtempSync(join(tmpdir(), 'inkflow-t2i-'));
    try {
      await writeRandomVae(join(dir, 'vae-src'));
      const out = join(dir, 'model');
      await saveTagModelFolder(out, params, shapes, { unetConfig: unetJson, textConfig: textJson, vocab, vaeDir: join(dir, 'vae-src'), scalingFactor: 0.5, card: '# toy\n' });
      const ckpt = loadCheckpoint(out, { cacheDir: false, threads: 1 });
      try {
        expect(ckpt.tokenizer.encode('red hair')).toEqual(tok.encode('red hair'));
        expect(ckpt.latentScale).toBe(0.5);
        const run = (prompt: string) => generate(ckpt, { prompt, seed: 3, width: 16, height: 16, steps: 4, cfg: 4 });
        const a = await run('red hair');
        const b = await run('blue shirt');
        const a2 = await run('red hair');
        expect(a.images[0].width).toBe(16);
        expect(Buffer.from(a.images[0].data).equals(Buffer.from(a2.images[0].data))).toBe(true);
        expect(Buffer.from(a.latent.buffer).equals(Buffer.from(b.latent.buffer))).toBe(false);
      } finally {
        await ckpt.release();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
