// Scale-out on a real redis-server (Debian package, started on a free loopback port): `inkflow serve
// --redis` queues into BullMQ, two `inkflow worker` processes share the queue, WebSocket clients of the
// server see the workers' progress, and every prompt runs on exactly one worker with one history entry.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, getJson, openWs, postJson, spawnInkflow, spawnServe, startRedisServer, tempDir } from '../../test/server/harness.ts';

afterAll(() => cleanupAll());

function prompt(k: number): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 256, height: 256, batch_size: 1, color: 5000 + k } },
    '2': { class_type: 'ImageScale', inputs: { image: ['1', 0], upscale_method: 'lanczos', width: 1024, height: 1024, crop: 'disabled' } },
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
      const n = 12;
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
      ws.close();
      await Promise.all(workers.map((w) => w.kill('SIGTERM')));
      await server.kill('SIGTERM');
    } finally {
      await redis.stop();
    }
  }, 300_000);
});
