// kill -9 in the middle of a queue, then restart on the same data folder: every accepted prompt runs to
// the end exactly once and has exactly one history entry. The prompt that was running at the kill runs
// again from the start (its attempt count goes to 2); a prompt cut off twice would be recorded as an error
// instead (store.test.ts covers that rule).
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanupAll, getJson, openWs, postJson, spawnServe, tempDir } from '../../test/server/harness.ts';

afterAll(() => cleanupAll());

/** A prompt that takes a little while (two lanczos resizes) and saves one PNG under dur/p<k>. */
function slowPrompt(k: number): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 192, height: 192, batch_size: 1, color: 1000 + k } },
    '2': { class_type: 'ImageScale', inputs: { image: ['1', 0], upscale_method: 'lanczos', width: 768, height: 768, crop: 'disabled' } },
    '3': { class_type: 'ImageScale', inputs: { image: ['2', 0], upscale_method: 'lanczos', width: 128, height: 128, crop: 'disabled' } },
    '4': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: `dur/p${k}` } },
  };
}

describe('durability', () => {
  it('loses and duplicates nothing across kill -9 and restart', async () => {
    const data = tempDir();
    const first = await spawnServe(['--data', data]);
    const ws = await openWs(first.url, 'dur');
    const ids: string[] = [];
    const n = 6;
    for (let k = 0; k < n; k++) {
      const r = await postJson(first.url, '/prompt', { prompt: slowPrompt(k), client_id: 'dur' });
      expect(r.status).toBe(200);
      ids.push(r.json.prompt_id);
    }
    // Kill while the queue is mid-way: two prompts done, the third running.
    await ws.waitFor((m) => m.type === 'execution_start' && m.data.prompt_id === ids[2], 'third prompt starts', 120_000);
    await first.kill('SIGKILL');
    ws.close();

    const second = await spawnServe(['--data', data]);
    try {
      expect(second.output()).toMatch(/1 prompt\(s\) cut off by the last stop run again/);
      const ws2 = await openWs(second.url, 'dur');
      const deadline = Date.now() + 180_000;
      let history: Record<string, any> = {};
      while (Date.now() < deadline) {
        history = (await getJson(second.url, '/history')).json;
        if (Object.keys(history).length >= n && (await getJson(second.url, '/queue')).json.queue_pending.length === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(Object.keys(history).sort()).toEqual([...ids].sort());
      for (const id of ids) expect(history[id].status.status_str, id).toBe('success');
      expect((await getJson(second.url, '/queue')).json).toEqual({ queue_running: [], queue_pending: [] });
      // Numbers keep growing across the restart.
      const r = await postJson(second.url, '/prompt', { prompt: slowPrompt(99), client_id: 'dur' });
      expect(r.json.number).toBeGreaterThanOrEqual(n);
      await ws2.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === r.json.prompt_id, 'new prompt done', 60_000);
      ws2.close();
    } finally {
      await second.kill('SIGTERM');
    }

    // One row per prompt in the database, all done, attempts 1 except the prompt cut off (2).
    const db = new Database(join(data, 'inkflow.sqlite'), { readonly: true });
    const rows = db.prepare(`SELECT id, state, attempts FROM prompts`).all() as { id: string; state: string; attempts: number }[];
    db.close();
    expect(rows).toHaveLength(n + 1);
    expect(rows.every((r) => r.state === 'done')).toBe(true);
    expect(rows.find((r) => r.id === ids[2])!.attempts).toBe(2);
    expect(rows.filter((r) => r.attempts !== 1).map((r) => r.id)).toEqual([ids[2]]);

    // Every history entry names a file that exists; only the re-run prompt may have left a second file.
    const files = readdirSync(join(data, 'output', 'dur'));
    for (let k = 0; k < n; k++) {
      const mine = files.filter((f) => f.startsWith(`p${k}_`));
      expect(mine.length, `p${k}`).toBe(k === 2 ? mine.length : 1);
      expect(mine.length).toBeGreaterThanOrEqual(1);
      expect(mine.length).toBeLessThanOrEqual(2);
    }
  }, 400_000);
});
