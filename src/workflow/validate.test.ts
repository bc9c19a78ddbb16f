import { describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readTranscript, tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import { validateEnvelope, validatePrompt } from './validate.ts';

const recorded = readTranscript('b_malformed_prompts.json');

describe('validatePrompt answers as ComfyUI', () => {
  const env = tempWorkflowEnv();
  const cases = Object.entries(recorded.cases as Record<string, { prompt: unknown; status: number; body: unknown }>);

  it('covers every recorded case', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const [name, c] of cases) {
    it(`${name}: the exact 400 body`, () => {
      expect(c.status).toBe(400);
      const r = validatePrompt(c.prompt, env);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.body).toStrictEqual(c.body);
    });
  }

  it('accepts a valid prompt and names its outputs', async () => {
    writeFileSync(join(env.inputDir, 'in.png'), await sharp({ create: { width: 4, height: 3, channels: 3, background: '#336699' } }).png().toBuffer());
    const r = validatePrompt({
      1: { class_type: 'LoadImage', inputs: { image: 'in.png' } },
      2: { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'x' } },
      4: { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
    }, env);
    expect(r).toEqual({ ok: true, outputs: ['3', '4'], node_errors: {} });
  });

  it('runs the good outputs and reports the bad one when only some fail', () => {
    const r = validatePrompt({
      1: { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      2: { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'ok' } },
      3: { class_type: 'ImageInvert', inputs: {} },
      4: { class_type: 'PreviewImage', inputs: { images: ['3', 0] } },
    }, env);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.outputs).toEqual(['2']);
      expect(Object.keys(r.node_errors)).toEqual(['3']);
    }
  });

  it('keeps file names inside the input folder', () => {
    copyFileSync('/etc/hostname', join(env.inputDir, '..', 'outside.png'));
    const r = validatePrompt({
      1: { class_type: 'LoadImage', inputs: { image: '../outside.png' } },
      2: { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
    }, env);
    expect(r.ok).toBe(false);
    if (!r.ok) expect((r.body.node_errors['1'] as { errors: { type: string }[] }).errors[0].type).toBe('custom_validation_failed');
  });

  it('converts literals as Python does before range checks', () => {
    const prompt = (width: unknown) => ({
      1: { class_type: 'EmptyImage', inputs: { width, height: 16, batch_size: 1, color: 0 } },
      2: { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
    });
    expect(validatePrompt(prompt('12'), env).ok).toBe(true);
    expect(validatePrompt(prompt(12.7), env).ok).toBe(true);
    const f = validatePrompt({
      1: { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      2: { class_type: 'ImageBlend', inputs: { image1: ['1', 0], image2: ['1', 0], blend_factor: 1.5, blend_mode: 'normal' } },
      3: { class_type: 'PreviewImage', inputs: { images: ['2', 0] } },
    }, env);
    expect(f.ok).toBe(false);
    if (!f.ok) expect((f.body.node_errors['2'] as { errors: { message: string }[] }).errors[0].message).toBe('Value 1.5 bigger than max of 1.0');
  });
});

describe('validateEnvelope', () => {
  const env = tempWorkflowEnv();
  for (const [name, c] of Object.entries(recorded.envelope as Record<string, { body_sent: unknown; status: number; body: unknown }>)) {
    if (name === 'invalid_json') continue; // not JSON: the HTTP layer answers ComfyUI's plain-text 500
    it(`${name}: the exact 400 body`, () => {
      expect(c.status).toBe(400);
      const e = validateEnvelope(c.body_sent);
      const body = e.ok ? (validatePrompt(e.envelope.prompt, env) as { body?: unknown }).body : e.body;
      expect(body).toStrictEqual(c.body);
    });
  }

  it('carries client_id into extra_data as ComfyUI does', () => {
    const e = validateEnvelope({ prompt: {}, client_id: 'abc', extra_data: { extra_pnginfo: { workflow: {} } } });
    expect(e.ok && e.envelope).toEqual({ prompt: {}, clientId: 'abc', extraData: { client_id: 'abc', extra_pnginfo: { workflow: {} } } });
  });
});
