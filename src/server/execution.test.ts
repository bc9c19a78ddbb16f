// Runs that go wrong: a node that fails sends ComfyUI's execution_error and the queue goes on; preview
// frames reach the client as binary frames.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from './startServer.ts';
import { cleanupAll, getJson, openWs, postJson, startTestServer, transcriptsDir } from '../../test/server/harness.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
  cleanupAll();
});

const ERROR_FIELDS = ['prompt_id', 'node_id', 'node_type', 'executed', 'exception_message', 'exception_type', 'traceback', 'current_inputs', 'current_outputs', 'timestamp'];

describe('execution', () => {
  it('a failing node sends execution_error with ComfyUI\'s fields, history records it, the next prompt runs', async () => {
    // Passes validation (the file exists) but cannot be decoded.
    writeFileSync(join(server.data.inputDir, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\n this is not really a png'));
    const ws = await openWs(server.url, 'fail');
    const bad = await postJson(server.url, '/prompt', {
      client_id: 'fail',
      prompt: {
        '1': { class_type: 'LoadImage', inputs: { image: 'broken.png' } },
        '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'fail/x' } },
      },
    });
    expect(bad.status).toBe(200);
    const good = await postJson(server.url, '/prompt', {
      client_id: 'fail',
      prompt: {
        '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 255 } },
        '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'fail/ok' } },
      },
    });
    const err = await ws.waitFor((m) => m.type === 'execution_error' && m.data.prompt_id === bad.json.prompt_id, 'execution_error');
    expect(Object.keys(err.data).sort()).toEqual([...ERROR_FIELDS].sort());
    expect(err.data).toMatchObject({ node_id: '1', node_type: 'LoadImage' });
    const order = ws.messages.filter((m) => m.data?.prompt_id === bad.json.prompt_id && m.type !== 'progress_state').map((m) => m.type);
    expect(order.slice(-2)).toEqual(['execution_error', 'executing']);
    const h = (await getJson(server.url, `/history/${bad.json.prompt_id}`)).json[bad.json.prompt_id];
    expect(h.status).toMatchObject({ status_str: 'error', completed: false });
    expect(h.status.messages.at(-1)[0]).toBe('execution_error');
    await ws.waitFor((m) => m.type === 'execution_success' && m.data.prompt_id === good.json.prompt_id, 'the next prompt succeeds');
    ws.close();
  });

  it('status reaches every client; execution events only the submitting one', async () => {
    const mine = await openWs(server.url, 'me');
    const other = await openWs(server.url, 'other');
    const r = await postJson(server.url, '/prompt', {
      client_id: 'me',
      prompt: {
        '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 77 } },
        '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
      },
    });
    await mine.waitFor((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === r.json.prompt_id, 'end');
    await other.waitFor((m) => m.type === 'status' && (m.data.status as any).exec_info.queue_remaining === 0 && !('sid' in m.data), 'status broadcast');
    expect(other.messages.filter((m) => m.data?.prompt_id === r.json.prompt_id)).toEqual([]);
    mine.close();
    other.close();
  });

  it('a client reconnecting with its id gets status with the same sid', async () => {
    const a = await openWs(server.url, 'again');
    a.close();
    const b = await openWs(server.url, 'again');
    const s = await b.waitFor((m) => m.type === 'status', 'status');
    expect(s.data.sid).toBe('again');
    b.close();
  });

  it('the recorded transcripts are present (missing test data is a failure)', () => {
    for (const f of ['a_valid_image_workflow.json', 'b_malformed_prompts.json', 'c_edge_cases.json', 'd_object_info_core.json']) {
      expect(readFileSync(join(transcriptsDir, f)).length, f).toBeGreaterThan(1000);
    }
  });

  it('/object_info lists the core image nodes with ComfyUI\'s entry shape', async () => {
    const D = JSON.parse(readFileSync(join(transcriptsDir, 'd_object_info_core.json'), 'utf8'));
    const all = (await getJson(server.url, '/object_info')).json;
    for (const cls of ['LoadImage', 'SaveImage', 'PreviewImage', 'ImageInvert', 'EmptyImage', 'ImageScale']) {
      expect(Object.keys(all[cls] ?? {}).sort(), cls).toEqual(Object.keys(D.nodes[cls]).sort());
      const one = (await getJson(server.url, `/api/object_info/${cls}`)).json;
      expect(Object.keys(one)).toEqual([cls]);
    }
  });
});
