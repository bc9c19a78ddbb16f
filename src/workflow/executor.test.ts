import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readPngText } from '../imaging/image.ts';
import { readTranscript, tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import type { ApiPrompt, ExecutionEvent } from './api.ts';
import { createExecutor, executionOrder } from './executor.ts';

const recorded = readTranscript('a_valid_image_workflow.json');
const edge = readTranscript('c_edge_cases.json');

/** The executor's part of a recorded WebSocket stream: without the queue's status and final executing null. */
function executorTypes(messages: { type: string; data: Record<string, unknown> }[]): string[] {
  return messages.filter((m) => m.type !== 'status' && !(m.type === 'executing' && m.data.node === null)).map((m) => m.type);
}

function collect(): { events: ExecutionEvent[]; emit(ev: ExecutionEvent): void } {
  const events: ExecutionEvent[] = [];
  return { events, emit: (ev) => events.push(ev) };
}

function dataOf(ev: ExecutionEvent | undefined): Record<string, unknown> {
  if (!ev || ev.type === 'preview') throw new Error('expected a text event');
  return ev.data;
}

function pngChunks(png: Buffer): { type: string; length: number }[] {
  const out = [];
  for (let off = 8; off < png.length; ) {
    const length = png.readUInt32BE(off);
    out.push({ type: png.toString('latin1', off + 4, off + 8), length });
    off += 12 + length;
  }
  return out;
}

describe('executor on the recorded image workflow', async () => {
  const env = tempWorkflowEnv();
  const inputName = recorded.prompt['1'].inputs.image as string;
  const src = await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 200, g: 40, b: 10, alpha: 0.5 } } }).png().toBuffer();
  writeFileSync(join(env.inputDir, inputName), src);
  const prompt = recorded.prompt as ApiPrompt;
  const extraData = recorded.run.post.request.body.extra_data;
  const executor = createExecutor(env);

  it('sends ComfyUI\'s event sequence, saves prefix_00001_.png with prompt + workflow tEXt', async () => {
    const c = collect();
    const out = await executor.run({ promptId: 'p1', prompt, extraData, clientId: 'c' }, { signal: new AbortController().signal, emit: c.emit });
    expect(out.status).toBe('success');
    const got = c.events.map((e) => e.type);
    expect(got).toEqual(executorTypes(recorded.run.ws_messages));
    // Same data keys as ComfyUI's messages, event by event.
    const want = recorded.run.ws_messages.filter((m: { type: string; data: Record<string, unknown> }) => executorTypes([m]).length);
    c.events.forEach((e, i) => expect(Object.keys((e as { data: object }).data).sort()).toEqual(Object.keys(want[i].data).sort()));
    expect(out.outputs).toEqual({ 3: { images: [{ filename: 'inv_00001_.png', subfolder: 'comfyref', type: 'output' }] } });
    expect(out.messages.map((m) => m[0])).toEqual(recorded.run.history.json[recorded.run.prompt_id].status.messages.map((m: [string]) => m[0]));
    expect(out.meta).toEqual({ 3: { node_id: '3', display_node: '3', parent_node: null, real_node_id: '3' } });

    const png = readFileSync(join(env.outputDir, 'comfyref', 'inv_00001_.png'));
    const text = readPngText(png);
    const wantText = recorded.view.png.text;
    expect(Object.keys(text)).toEqual(Object.keys(wantText));
    const savedPrompt = JSON.parse(text.prompt);
    expect(Object.keys(savedPrompt['1'])).toEqual(['class_type', 'inputs', 'is_changed']);
    expect(savedPrompt['1'].is_changed[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(text.workflow)).toEqual(wantText.workflow.json);
    // Python json.dumps spacing: the tEXt chunks have exactly the recorded lengths.
    expect(pngChunks(png).filter((ch) => ch.type === 'tEXt').map((ch) => ch.length)).toEqual(recorded.view.png.chunks.filter((ch: { type: string }) => ch.type === 'tEXt').map((ch: { length: number }) => ch.length));

    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([64, 48, 3]);
    const { data: orig } = await sharp(src).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let diff = 0;
    for (let i = 0; i < data.length; i++) {
      const d = Math.abs(data[i] - (255 - orig[i]));
      expect(d).toBeLessThanOrEqual(1); // SaveImage truncates 255·(1 − v/255) in float32, as ComfyUI
      diff += d;
    }
    expect(diff / data.length).toBeLessThan(0.5);
  });

  it('answers an identical prompt from the cache: every node cached, the same file, nothing rewritten', async () => {
    const c = collect();
    const out = await executor.run({ promptId: 'p2', prompt }, { signal: new AbortController().signal, emit: c.emit });
    expect(c.events.map((e) => e.type)).toEqual(executorTypes(recorded.rerun_cached.ws_messages));
    expect(dataOf(c.events[1]).nodes).toEqual(['1', '2', '3']);
    expect(out.outputs['3']).toEqual({ images: [{ filename: 'inv_00001_.png', subfolder: 'comfyref', type: 'output' }] });
    expect(readdirSync(join(env.outputDir, 'comfyref'))).toEqual(['inv_00001_.png']);
  });

  it('continues the counter for a changed prompt and re-runs only what changed', async () => {
    const changed = structuredClone(prompt);
    changed['3'].inputs.filename_prefix = 'comfyref/inv';
    changed['4'] = { class_type: 'ImageInvert', inputs: { image: ['2', 0] } };
    changed['5'] = { class_type: 'SaveImage', inputs: { images: ['4', 0], filename_prefix: 'comfyref/inv' } };
    const c = collect();
    const out = await executor.run({ promptId: 'p3', prompt: changed }, { signal: new AbortController().signal, emit: c.emit });
    expect(dataOf(c.events[1]).nodes).toEqual(['1', '2', '3']);
    expect(c.events.filter((e) => e.type === 'executing').map((e) => dataOf(e).node)).toEqual(['4', '5']);
    expect(out.outputs['5']).toEqual({ images: [{ filename: 'inv_00002_.png', subfolder: 'comfyref', type: 'output' }] });
  });

  it('writes PreviewImage into the temp folder', async () => {
    const c = collect();
    const out = await executor.run({ promptId: 'p4', prompt: recorded.preview_prompt as ApiPrompt }, { signal: new AbortController().signal, emit: c.emit });
    expect(out.status).toBe('success');
    const [img] = (Object.values(out.outputs)[0] as { images: { filename: string; subfolder: string; type: string }[] }).images;
    expect(img.type).toBe('temp');
    expect(img.filename).toMatch(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/);
    expect(existsSync(join(env.tempDir, img.filename))).toBe(true);
  });
});

describe('executor interruption, errors and cycles', () => {
  const chain = (edge.queue_clear_and_interrupt.history_interrupted as Record<string, { prompt: [number, string, ApiPrompt] }>);
  // The recorded chain (EmptyImage → 6× ImageScale lanczos → ImageInvert → PreviewImage) at 1/16 of its sizes.
  const slowPrompt = structuredClone(Object.values(chain)[0].prompt[2]);
  for (const n of Object.values(slowPrompt)) for (const k of ['width', 'height'] as const) if (typeof n.inputs[k] === 'number') n.inputs[k] = (n.inputs[k] as number) / 16;

  it('stops between nodes on abort with ComfyUI\'s execution_interrupted, then resumes from the cache', async () => {
    const env = tempWorkflowEnv();
    const executor = createExecutor(env);
    const ac = new AbortController();
    const c = collect();
    const out = await executor.run({ promptId: 'i1', prompt: slowPrompt }, {
      signal: ac.signal,
      emit(ev) {
        c.emit(ev);
        if (ev.type === 'executing' && ev.data.node === '11') ac.abort();
      },
    });
    expect(out.status).toBe('interrupted');
    const last = c.events.at(-1) as { type: string; data: Record<string, unknown> };
    expect(last.type).toBe('execution_interrupted');
    expect(Object.keys(last.data).sort()).toEqual(['executed', 'node_id', 'node_type', 'prompt_id', 'timestamp']);
    // As in the recorded run: the node that was running finishes, the next one is where it stops.
    expect(last.data.executed).toEqual(['1', '10', '11']);
    expect(last.data.node_id).toBe('12');
    expect(out.messages.map((m) => m[0])).toEqual(['execution_start', 'execution_cached', 'execution_interrupted']);

    const again = collect();
    const done = await executor.run({ promptId: 'i2', prompt: slowPrompt }, { signal: new AbortController().signal, emit: again.emit });
    expect(done.status).toBe('success');
    expect(dataOf(again.events[1]).nodes).toEqual(['1', '10', '11']);
  });

  it('reports a failing node with execution_error and stays usable', async () => {
    const env = tempWorkflowEnv();
    const executor = createExecutor(env);
    const bad: ApiPrompt = {
      1: { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      2: { class_type: 'ImageToMask', inputs: { image: ['1', 0], channel: 'alpha' } },
      3: { class_type: 'MaskToImage', inputs: { mask: ['2', 0] } },
      4: { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'x' } },
    };
    const c = collect();
    const out = await executor.run({ promptId: 'e1', prompt: bad }, { signal: new AbortController().signal, emit: c.emit });
    expect(out.status).toBe('error');
    const err = c.events.at(-1) as { type: string; data: Record<string, unknown> };
    expect(err.type).toBe('execution_error');
    expect(err.data).toMatchObject({ prompt_id: 'e1', node_id: '2', node_type: 'ImageToMask', executed: ['1'] });
    expect(Object.keys(err.data).sort()).toEqual(['current_inputs', 'current_outputs', 'exception_message', 'exception_type', 'executed', 'node_id', 'node_type', 'prompt_id', 'timestamp', 'traceback']);
    expect(String(err.data.exception_message)).toMatch(/no alpha channel/);

    const good = structuredClone(bad);
    good['2'].inputs.channel = 'red';
    const ok = await executor.run({ promptId: 'e2', prompt: good }, { signal: new AbortController().signal, emit: () => {} });
    expect(ok.status).toBe('success');
    expect(readdirSync(env.outputDir)).toEqual(['x_00001_.png']);
  });

  it('refuses a SaveImage prefix that leaves the output folder, writing nothing', async () => {
    const env = tempWorkflowEnv();
    const out = await createExecutor(env).run({
      promptId: 't1',
      prompt: {
        1: { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
        2: { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: '../escape/x' } },
      },
    }, { signal: new AbortController().signal, emit: () => {} });
    expect(out.status).toBe('error');
    expect(existsSync(join(env.outputDir, '..', 'escape'))).toBe(false);
  });

  it('orders dependencies first and rejects a cycle as dependency_cycle', () => {
    const p: ApiPrompt = {
      3: { class_type: 'SaveImage', inputs: { images: ['2', 0] } },
      2: { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      1: { class_type: 'EmptyImage', inputs: {} },
    };
    expect(executionOrder(p, ['3'])).toEqual(['1', '2', '3']);
    p['1'] = { class_type: 'ImageInvert', inputs: { image: ['2', 0] } };
    expect(() => executionOrder(p, ['3'])).toThrow(expect.objectContaining({ name: 'dependency_cycle' }));
  });
});
