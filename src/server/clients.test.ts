// Real ComfyUI clients from npm drive a full round trip against a started server (real sockets), used as
// their READMEs show: a txt2img prompt on the tiny checkpoint → progress per sampler step and binary
// preview frames → the output image fetched back through /view. Plus an image-only round trip (upload →
// ImageInvert → SaveImage) whose pixels are checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import WebSocket from 'ws';
import sharp from 'sharp';
import { Client } from '@stable-canvas/comfyui-client';
import { CallWrapper, ComfyApi, PromptBuilder } from '@saintno/comfyui-sdk';
import { TOKENIZER_DIR, writeTinySingleFile } from '../pipelines/generate/tinyCheckpoint.ts';
import type { RunningServer } from './startServer.ts';
import { cleanupAll, solidPng, startTestServer, uploadImage } from '../../test/server/harness.ts';

let server: RunningServer;
beforeAll(async () => {
  // The executor thread reads the CLIP tokenizer tables from here (the tiny checkpoint is a single file).
  process.env.INKFLOW_TOKENIZER = TOKENIZER_DIR;
  server = await startTestServer();
  await writeTinySingleFile(join(server.data.modelDirs.checkpoints[0], 'tiny.safetensors'));
  const up = await uploadImage(server.url, 'client_in.png', await solidPng(32, 24, [10, 100, 200]));
  expect(up.status).toBe(200);
});
afterAll(async () => {
  await server.close();
  cleanupAll();
});

const STEPS = 3;
const txt2img = (prefix: string, seed: number) => ({
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'tiny.safetensors' }, _meta: { title: 'Load Checkpoint' } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a red fox, comic panel', clip: ['4', 1] }, _meta: { title: 'Positive' } },
  '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] }, _meta: { title: 'Negative' } },
  '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 }, _meta: { title: 'Empty Latent Image' } },
  '3': {
    class_type: 'KSampler',
    inputs: { model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0], seed, steps: STEPS, cfg: 5, sampler_name: 'euler', scheduler: 'normal', denoise: 1 },
    _meta: { title: 'KSampler' },
  },
  '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] }, _meta: { title: 'VAE Decode' } },
  '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: prefix }, _meta: { title: 'Save Image' } },
});

const invertPrompt = (prefix: string) => ({
  '1': { class_type: 'LoadImage', inputs: { image: 'client_in.png' }, _meta: { title: 'Load Image' } },
  '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] }, _meta: { title: 'Invert Image' } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix }, _meta: { title: 'Save Image' } },
});

async function expectPng(bytes: Buffer, width: number, height: number) {
  const meta = await sharp(bytes).metadata();
  expect([meta.format, meta.width, meta.height]).toEqual(['png', width, height]);
}

async function expectInverted(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([32, 24]);
  // ComfyUI's float round trip truncates: 255·(1 − 200/255) may land just under 55.
  const want = [255 - 10, 255 - 100, 255 - 200];
  [...data.subarray(0, 3)].forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1));
}

describe('@stable-canvas/comfyui-client', () => {
  it('enqueue(): txt2img → progress per step and previews → image url served by /view; then an image-only prompt', async () => {
    const client = new Client({ api_host: new URL(server.url).host, WebSocket, fetch });
    let previews = 0;
    client.on('b_preview', () => previews++);
    try {
      const [stats, connected] = await Promise.all([client.getSystemStats(), client.connect()]);
      expect(stats.devices.length).toBeGreaterThan(0);
      expect(connected).toBeTruthy();
      const progress: { value: number; max: number }[] = [];
      const out = await client.enqueue(txt2img('clients/stable-canvas', 1), { progress: (p) => progress.push({ value: p.value, max: p.max }) });
      expect(progress).toEqual(Array.from({ length: STEPS }, (_, i) => ({ value: i + 1, max: STEPS })));
      expect(previews).toBeGreaterThan(0);
      // The client returns the preview frames it saw as buffers, then the saved image as a /view url.
      const urls = out.images.filter((i) => i.type === 'url');
      expect(urls).toHaveLength(1);
      expect(out.images.filter((i) => i.type === 'buff')).toHaveLength(previews);
      const res = await fetch(urls[0].data as string);
      expect(res.status).toBe(200);
      await expectPng(Buffer.from(await res.arrayBuffer()), 64, 64);
      const { History } = await client.getHistory();
      expect(History.find((h) => h.prompt[1] === out.prompt_id)?.status?.status_str).toBe('success');

      const inv = await client.enqueue(invertPrompt('clients/stable-canvas-inv'));
      const invRes = await fetch(inv.images.find((i) => i.type === 'url')!.data as string);
      await expectInverted(Buffer.from(await invRes.arrayBuffer()));
    } finally {
      client.close();
    }
  });
});

describe('@saintno/comfyui-sdk', () => {
  it('PromptBuilder + CallWrapper: onStart → onProgress per step → onPreview → onFinished, image via getPathImage', async () => {
    const api = new ComfyApi(server.url, 'saintno-test', { customWebSocketImpl: WebSocket as never }).init();
    try {
      await api.waitForReady();
      const workflow = new PromptBuilder(txt2img('clients/saintno', 2), ['positive', 'seed', 'step'], ['images'])
        .setInputNode('positive', '6.inputs.text')
        .setInputNode('seed', '3.inputs.seed')
        .setInputNode('step', '3.inputs.steps')
        .setOutputNode('images', '9')
        .input('positive', 'a blue bird on a branch')
        .input('seed', 7)
        .input('step', STEPS);
      const started: string[] = [];
      const progress: number[] = [];
      let previews = 0;
      const result = await new Promise<any>((resolve, reject) => {
        new CallWrapper(api, workflow)
          .onStart((id) => started.push(id ?? ''))
          .onProgress((info) => progress.push(info.value))
          .onPreview(() => previews++)
          .onFinished((data) => resolve(data))
          .onFailed((err) => reject(new Error(`${err.message}: ${JSON.stringify((err as { cause?: unknown }).cause)}`)))
          .run()
          .catch(reject);
      });
      expect(started).toHaveLength(1);
      expect(progress).toEqual([1, 2, 3]);
      expect(previews).toBeGreaterThan(0);
      const images = result.images.images as { filename: string; subfolder: string; type: string }[];
      expect(images).toHaveLength(1);
      const res = await fetch(api.getPathImage(images[0] as never));
      expect(res.status).toBe(200);
      await expectPng(Buffer.from(await res.arrayBuffer()), 64, 64);
    } finally {
      api.destroy();
    }
  });
});
