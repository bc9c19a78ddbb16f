// Scale-out on a real redis-server (Debian package, started on a free loopback port): `inkflow serve
// --redis` queues into BullMQ, two `inkflow worker` processes share the queue, WebSocket clients of the
// server see the workers' progress, every prompt runs on exactly one worker with one history entry, a
// targeted interrupt reaches the right worker, and results that arrive while the server is down (kill -9)
// are collected from BullMQ when it restarts.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, getJson, openWs, postJson, spawnInkflow, spawnServe, startRedisServer, tempDir } from '../../test/server/harness.ts';

afterAll(() => cleanupAll());

function prompt(k: number): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 128, height: 128, batch_size: 1, color: 5000 + k } },
    '2': { class_type: 'ImageScale', inputs: { image: ['1', 0], upscale_method: 'lanczos', width: 512, height: 512, crop: 'disabled' } },
    '3': { class_type: 'ImageInvert', inputs: { image: ['2', 0] } },
    '4': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: `redis/p${k}` } },
  };
}

describe('redis workers', () => {
  it('two workers share one queue; progress reaches the server\'s clients; each prompt runs once', async () => {
    const redis = await startRedisServer();
    const data = tempDir();
    try {
      const server = await spawnServe(['--data', data, '--redis', redis.url]);
      const workers = ['w1', 'w2'].map((name) => spawnInkflow(['worker', '--redis', redis.url, '--data', data, '--name', name], `worker ${name}`));
      await Promise.all(workers.map((w) => w.waitForOutput(/waiting for prompts/)));
      const ws = await openWs(server.url, 'scale');
      const ids: string[] = [];
      const n = 8;
      for (let k = 0; k < n; k++) {
        const r = await postJson(server.url, '/prompt', { prompt: prompt(k), client_id: 'scale' });
        expect(r.status).toBe(200);
        ids.push(r.json.prompt_id);
      }
      for (const id of ids) {
        await ws.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === id, `end of ${id}`, 120_000);
      }
      // The workers' events came through the server, in ComfyUI's order, for every prompt.
      for (const id of ids) {
        const types = ws.messages.filter((m) => m.data?.prompt_id === id && m.type !== 'progress_state').map((m) => m.type);
        expect(types[0]).toBe('execution_start');
        expect(types).toContain('executing');
        expect(types).toContain('executed');
        expect(types.slice(-2)).toEqual(['execution_success', 'executing']);
        expect(types.filter((t) => t === 'execution_success')).toHaveLength(1);
      }
      const history = (await getJson(server.url, '/history')).json;
      expect(Object.keys(history).sort()).toEqual([...ids].sort());
      for (const id of ids) {
        expect(history[id].status.status_str).toBe('success');
        const img = history[id].outputs['4'].images[0];
        expect(existsSync(join(data, 'output', img.subfolder, img.filename))).toBe(true);
        const view = await fetch(`${server.url}/view?filename=${img.filename}&subfolder=${img.subfolder}&type=output`);
        expect(view.status).toBe(200);
      }
      const ran = workers.map((w) => [...w.output().matchAll(/ran (\S+) \(success\)/g)].map((m) => m[1]));
      expect(ran[0].length, 'worker 1 took prompts').toBeGreaterThan(0);
      expect(ran[1].length, 'worker 2 took prompts').toBeGreaterThan(0);
      expect([...ran[0], ...ran[1]].sort()).toEqual([...ids].sort());

      // A targeted interrupt reaches the worker running that prompt.
      const slow = {
        '1': { class_type: 'EmptyImage', inputs: { width: 512, height: 512, batch_size: 1, color: 77 } },
        '2': { class_type: 'ImageScale', inputs: { image: ['1', 0], upscale_method: 'lanczos', width: 2048, height: 2048, crop: 'disabled' } },
        '3': { class_type: 'ImageScale', inputs: { image: ['2', 0], upscale_method: 'lanczos', width: 512, height: 512, crop: 'disabled' } },
        '4': { class_type: 'ImageScale', inputs: { image: ['3', 0], upscale_method: 'lanczos', width: 2048, height: 2048, crop: 'disabled' } },
        '5': { class_type: 'ImageScale', inputs: { image: ['4', 0], upscale_method: 'lanczos', width: 512, height: 512, crop: 'disabled' } },
        '6': { class_type: 'PreviewImage', inputs: { images: ['5', 0] } },
      };
      const s = await postJson(server.url, '/prompt', { prompt: slow, client_id: 'scale' });
      await ws.waitFor((m) => m.type === 'executing' && m.data.prompt_id === s.json.prompt_id, 'slow prompt runs', 60_000);
      expect((await postJson(server.url, '/interrupt', { prompt_id: s.json.prompt_id })).status).toBe(200);
      await ws.waitFor((m) => m.type === 'execution_interrupted' && m.data.prompt_id === s.json.prompt_id, 'interrupted', 60_000);
      const sh = (await getJson(server.url, `/history/${s.json.prompt_id}`)).json[s.json.prompt_id];
      expect(sh.status).toMatchObject({ status_str: 'error', completed: false });
      ws.close();

      // kill -9 the server while workers run its queue; the workers finish; a restart collects every
      // result from BullMQ, once.
      const later: string[] = [];
      for (let k = 100; k < 106; k++) {
        const r = await postJson(server.url, '/prompt', { prompt: prompt(k), client_id: 'scale' });
        later.push(r.json.prompt_id);
      }
      await server.kill('SIGKILL');
      await Promise.all(later.map((id) => Promise.race(workers.map((w) => w.waitForOutput(new RegExp(`ran ${id} `), 120_000)))));
      const again = await spawnServe(['--data', data, '--redis', redis.url]);
      const deadline = Date.now() + 60_000;
      let h: Record<string, any> = {};
      while (Date.now() < deadline) {
        h = (await getJson(again.url, '/history')).json;
        if (later.every((id) => h[id])) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const id of later) expect(h[id]?.status.status_str, id).toBe('success');
      expect(Object.keys(h)).toHaveLength(n + 1 + later.length);
      expect((await getJson(again.url, '/queue')).json).toEqual({ queue_running: [], queue_pending: [] });
      const ranLater = workers.flatMap((w) => [...w.output().matchAll(/ran (\S+) \(success\)/g)].map((m) => m[1])).filter((id) => later.includes(id));
      expect(ranLater.sort()).toEqual([...later].sort());

      await Promise.all(workers.map((w) => w.kill('SIGTERM')));
      await again.kill('SIGTERM');
    } finally {
      await redis.stop();
    }
  }, 400_000);
});
