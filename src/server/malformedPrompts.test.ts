// Every malformed prompt recorded from ComfyUI (../shared/comfyui-transcripts/b_malformed_prompts.json),
// POSTed to a real server (both /prompt and /api/prompt): the status, the error type and message, and per
// node the error types must match; nothing is queued.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from './startServer.ts';
import { cleanupAll, getJson, postJson, startTestServer, transcriptsDir } from '../../test/server/harness.ts';

const B = JSON.parse(readFileSync(join(transcriptsDir, 'b_malformed_prompts.json'), 'utf8'));

interface ErrorBody {
  error: { type: string; message: string; details: string; extra_info: object };
  node_errors: Record<string, { errors: { type: string }[]; class_type: string }>;
}

/** What must agree: error type/message, and per node its class and error types. */
function essence(body: ErrorBody) {
  return {
    type: body.error.type,
    message: body.error.message,
    nodes: Object.fromEntries(Object.entries(body.node_errors).map(([id, e]) => [id, { class_type: e.class_type, errors: e.errors.map((x) => x.type) }])),
  };
}

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
  cleanupAll();
});

describe('malformed prompts', () => {
  const cases = Object.entries(B.cases) as [string, { prompt: unknown; status: number; body: ErrorBody }][];
  it('has the recorded cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });
  for (const [name, c] of cases) {
    it(`${name}: ${c.status} ${c.body.error.type}`, async () => {
      for (const prefix of ['', '/api']) {
        const res = await postJson(server.url, `${prefix}/prompt`, { prompt: c.prompt, client_id: 'malformed' });
        expect(res.status).toBe(c.status);
        expect(Object.keys(res.json).sort()).toEqual(['error', 'node_errors']);
        expect(essence(res.json)).toEqual(essence(c.body));
      }
      expect((await getJson(server.url, '/queue')).json).toEqual({ queue_running: [], queue_pending: [] });
    });
  }

  it('envelope errors: no prompt key and a list answer exactly as recorded', async () => {
    for (const key of ['no_prompt_key', 'prompt_is_list']) {
      const c = B.envelope[key];
      const res = await postJson(server.url, '/prompt', c.body_sent);
      expect(res.status, key).toBe(c.status);
      expect(res.json, key).toEqual(c.body);
    }
  });

  it('invalid JSON is a 400 (deliberately not ComfyUI\'s 500: the client sent it wrong)', async () => {
    const c = B.envelope.invalid_json;
    expect(c.status).toBe(500);
    const res = await postJson(server.url, '/prompt', c.body_sent);
    expect(res.status).toBe(400);
    expect((await getJson(server.url, '/history')).json).toEqual({});
  });
});
