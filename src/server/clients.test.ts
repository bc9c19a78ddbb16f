// Real ComfyUI clients from npm drive a full round trip against a started server (real sockets), used as
// their READMEs show: prompt → execution events → the output image fetched back through /view.
// The workflow: an uploaded image → ImageInvert → SaveImage; the returned PNG must be the inverse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import sharp from 'sharp';
import { Client } from '@stable-canvas/comfyui-client';
import { CallWrapper, ComfyApi, PromptBuilder } from '@saintno/comfyui-sdk';
import type { RunningServer } from './startServer.ts';
import { cleanupAll, solidPng, startTestServer, uploadImage } from '../../test/server/harness.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
  const up = await uploadImage(server.url, 'client_in.png', await solidPng(32, 24, [10, 100, 200]));
  expect(up.status).toBe(200);
});
afterAll(async () => {
  await server.close();
  cleanupAll();
});

const invertPrompt = (prefix: string) => ({
  '1': { class_type: 'LoadImage', inputs: { image: 'client_in.png' }, _meta: { title: 'Load Image' } },
  '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] }, _meta: { title: 'Invert Image' } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: prefix }, _meta: { title: 'Save Image' } },
});

async function expectInverted(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([32, 24]);
  // ComfyUI's float round trip truncates: 255·(1 − 200/255) lands just under 55.
  const want = [255 - 10, 255 - 100, 255 - 200];
  [...data.subarray(0, 3)].forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1));
}

describe('@stable-canvas/comfyui-client', () => {
  it('enqueue(): prompt → executing events → image url served by /view', async () => {
    const client = new Client({ api_host: new URL(server.url).host, WebSocket, fetch });
    const executing: string[] = [];
    client.on('executing', (ev) => {
      if (ev.node) executing.push(String(ev.node));
    });
    try {
      const [stats, connected] = await Promise.all([client.getSystemStats(), client.connect()]);
      expect(stats.devices.length).toBeGreaterThan(0);
      expect(connected).toBeTruthy();
      const progress: unknown[] = [];
      const out = await client.enqueue(invertPrompt('clients/stable-canvas'), { progress: (p) => progress.push(p) });
      expect(out.prompt_id).toMatch(/.+/);
      expect(out.images).toHaveLength(1);
      const img = out.images[0];
      expect(img.type).toBe('url');
      const res = await fetch(img.data as string);
      expect(res.status).toBe(200);
      await expectInverted(Buffer.from(await res.arrayBuffer()));
      expect(executing).toEqual(expect.arrayContaining(['1', '2', '3']));
      const { History } = await client.getHistory();
      expect(History.find((h) => h.prompt[1] === out.prompt_id)?.status?.status_str).toBe('success');
    } finally {
      client.close();
    }
  });
});

describe('@saintno/comfyui-sdk', () => {
  it('CallWrapper: onStart → onProgress/executing → onFinished with the image, fetched via getPathImage', async () => {
    const api = new ComfyApi(server.url, 'saintno-test', { customWebSocketImpl: WebSocket as never }).init();
    try {
      await api.waitForReady();
      const workflow = new PromptBuilder(invertPrompt('clients/saintno'), ['image'], ['images'])
        .setInputNode('image', '1.inputs.image')
        .setOutputNode('images', '3')
        .input('image', 'client_in.png');
      const started: string[] = [];
      const nodes: string[] = [];
      api.on('executing', (ev) => {
        const node = (ev as CustomEvent<{ node: string | null }>).detail.node;
        if (node) nodes.push(node);
      });
      const result = await new Promise<any>((resolve, reject) => {
        new CallWrapper(api, workflow)
          .onStart((id) => started.push(id ?? ''))
          .onFinished((data) => resolve(data))
          .onFailed((err) => reject(new Error(`${err.message}: ${JSON.stringify((err as { cause?: unknown }).cause)}`)))
          .run()
          .catch(reject);
      });
      expect(started).toHaveLength(1);
      expect(nodes).toEqual(expect.arrayContaining(['1', '2', '3']));
      const images = result.images.images as { filename: string; subfolder: string; type: string }[];
      expect(images).toHaveLength(1);
      const res = await fetch(api.getPathImage(images[0] as never));
      expect(res.status).toBe(200);
      await expectInverted(Buffer.from(await res.arrayBuffer()));
    } finally {
      api.destroy();
    }
  });
});
