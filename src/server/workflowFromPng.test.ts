// POST /inkflow/workflow-from-png on a real server: a PNG the server saved gives back the prompt and workflow it
// ran (also under /api/); non-PNGs, PNGs without a workflow, oversized uploads and pixel bombs are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertPngText } from '../imaging/image.ts';
import type { RunningServer } from './startServer.ts';
import { cleanupAll, getJson, openWs, postJson, solidPng, startTestServer, uploadImage } from '../../test/server/harness.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({ limits: { maxUploadBytes: 64 * 1024, maxImagePixels: 1_000_000 } });
});
afterAll(async () => {
  await server.close();
  cleanupAll();
});

const ROUTE = '/inkflow/workflow-from-png';

describe('POST /inkflow/workflow-from-png', () => {
  it('a PNG saved by the server answers the prompt and the workflow it ran with', async () => {
    const prompt = {
      '1': { class_type: 'EmptyImage', inputs: { width: 12, height: 8, batch_size: 1, color: 0x336699 } },
      '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'reload/panel' } },
    };
    const workflow = { last_node_id: 3, nodes: [{ id: 1, type: 'EmptyImage' }], links: [], version: 0.4 };
    const ws = await openWs(server.url, 'reload');
    const r = await postJson(server.url, '/prompt', { client_id: 'reload', prompt, extra_data: { extra_pnginfo: { workflow } } });
    expect(r.status).toBe(200);
    await ws.waitFor((m) => m.type === 'execution_success' && m.data.prompt_id === r.json.prompt_id, 'execution_success');
    ws.close();
    const history = (await getJson(server.url, `/history/${r.json.prompt_id}`)).json[r.json.prompt_id];
    const [img] = history.outputs['3'].images as { filename: string; subfolder: string; type: string }[];
    const view = await fetch(`${server.url}/view?filename=${encodeURIComponent(img.filename)}&subfolder=${encodeURIComponent(img.subfolder)}&type=${img.type}`);
    expect(view.status).toBe(200);
    const png = Buffer.from(await view.arrayBuffer());
    for (const path of [ROUTE, `/api${ROUTE}`]) {
      const back = await uploadImage(server.url, img.filename, png, {}, path);
      expect(back.status, back.text).toBe(200);
      expect(back.json).toEqual({ prompt, workflow });
    }
    // The prompt it answers can be queued again as is.
    const again = await postJson(server.url, '/prompt', { prompt: (await uploadImage(server.url, 'x.png', png, {}, ROUTE)).json.prompt });
    expect(again.status).toBe(200);
  });

  it('a PNG with only a UI workflow answers prompt null', async () => {
    const png = insertPngText(await solidPng(4, 4, [1, 2, 3]), { workflow: JSON.stringify({ nodes: [], links: [] }) });
    const back = await uploadImage(server.url, 'ui.png', png, {}, ROUTE);
    expect(back.status, back.text).toBe(200);
    expect(back.json).toEqual({ prompt: null, workflow: { nodes: [], links: [] } });
  });

  it('refuses non-PNGs, PNGs without a workflow, bad prompt JSON, oversized uploads and pixel bombs', async () => {
    const jpeg = await (await import('sharp')).default({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const notPng = await uploadImage(server.url, 'photo.jpg', jpeg, {}, ROUTE);
    expect([notPng.status, notPng.text]).toEqual([400, '"photo.jpg" is not a PNG']);
    const plain = await uploadImage(server.url, 'plain.png', await solidPng(4, 4, [9, 9, 9]), {}, `/api${ROUTE}`);
    expect(plain.status).toBe(400);
    expect(plain.text).toMatch(/"plain\.png" has no workflow — no "prompt" tEXt chunk and no "workflow" chunk/);
    const broken = await uploadImage(server.url, 'broken.png', insertPngText(await solidPng(4, 4, [9, 9, 9]), { prompt: '{"1": ' }), {}, ROUTE);
    expect(broken.status).toBe(400);
    expect(broken.text).toMatch(/the "prompt" chunk of "broken\.png" is not JSON/);
    const big = insertPngText(await solidPng(4, 4, [9, 9, 9]), { prompt: '{}', note: 'x'.repeat(70 * 1024) });
    expect((await uploadImage(server.url, 'big.png', big, {}, ROUTE)).status).toBe(413);
    // IHDR claims 2000 × 2000: refused from the header, nothing decoded.
    const bomb = insertPngText(await solidPng(4, 4, [9, 9, 9]), { prompt: '{}' });
    bomb.writeUInt32BE(2000, 16);
    bomb.writeUInt32BE(2000, 20);
    const refused = await uploadImage(server.url, 'bomb.png', bomb, {}, ROUTE);
    expect(refused.status).toBe(413);
    expect(refused.text).toMatch(/4000000 pixels, above the limit of 1000000/);
    const noForm = await postJson(server.url, ROUTE, {});
    expect(noForm.status).toBe(400);
  });
});
