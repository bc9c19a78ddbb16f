// Every refusal ComfyUI was recorded giving (../shared/comfyui-transcripts/b_malformed_prompts.json) is said
// in one line without Python internals, and the missing-model cases name the folder to put the file in.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { explainPromptError } from './promptErrors.ts';

const TRANSCRIPTS = join(import.meta.dirname, '../../../../shared/comfyui-transcripts/b_malformed_prompts.json');
const cases = (JSON.parse(readFileSync(TRANSCRIPTS, 'utf8')) as { cases: Record<string, { status: number; body: unknown }> }).cases;

describe('explainPromptError', () => {
  it('says every recorded ComfyUI refusal in one line', () => {
    expect(Object.keys(cases).length).toBeGreaterThan(10);
    for (const [name, c] of Object.entries(cases)) {
      const text = explainPromptError(c.body);
      expect(text, name).not.toMatch(/Traceback|File "|\n/);
      expect(text.length, name).toBeGreaterThan(20);
    }
    expect(explainPromptError(cases.unknown_class_type.body)).toMatch(/does not have a tool this needs \(Cannot execute because node NoSuchNode does not exist/);
    expect(explainPromptError(cases.loadimage_missing_file.body)).toBe('a picture sent to the server is not there any more; try again');
    expect(explainPromptError(cases.out_of_range_above_max.body)).toMatch(/Value 999999 bigger than max of 16384 — width/);
  });

  it('names the folder for a missing checkpoint, LoRA or ControlNet', () => {
    const missing = (class_type: string, input: string, received: string) => ({
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation' },
      node_errors: { '1': { class_type, errors: [{ type: 'value_not_in_list', message: 'Value not in list', details: `${input}: '${received}' not in []`, extra_info: { input_name: input, received_value: received } }] } },
    });
    expect(explainPromptError(missing('CheckpointLoaderSimple', 'ckpt_name', 'sd15.safetensors'))).toBe('the checkpoint "sd15.safetensors" is not installed: put it in models/checkpoints');
    expect(explainPromptError(missing('LoraLoader', 'lora_name', 'mika.safetensors'))).toMatch(/models\/loras/);
    expect(explainPromptError(missing('ControlNetLoader', 'control_net_name', 'scribble.safetensors'))).toMatch(/models\/controlnet/);
  });
});
