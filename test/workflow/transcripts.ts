// The recorded ComfyUI answers (shared/comfyui-transcripts) and a throwaway ComfyUI-style data folder.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { WorkflowEnv } from '../../src/workflow/api.ts';

export const transcriptsRoot = resolve(process.env.INKFLOW_TRANSCRIPTS ?? join(import.meta.dirname, '../../../shared/comfyui-transcripts'));

/** A transcript file, parsed; a missing file fails the test (never a skip). */
export function readTranscript<T = Record<string, any>>(name: string): T {
  return JSON.parse(readFileSync(join(transcriptsRoot, name), 'utf8')) as T;
}

/** input/, output/, temp/ and models/<kind>/ under a fresh temporary folder. */
export function tempWorkflowEnv(kinds: readonly string[] = ['checkpoints', 'loras', 'controlnet']): WorkflowEnv {
  const root = mkdtempSync(join(tmpdir(), 'inkflow-wf-'));
  const dir = (p: string) => {
    const d = join(root, p);
    mkdirSync(d, { recursive: true });
    return d;
  };
  return {
    inputDir: dir('input'),
    outputDir: dir('output'),
    tempDir: dir('temp'),
    modelDirs: Object.fromEntries(kinds.map((k) => [k, [dir(`models/${k}`)]])),
    limits: { maxImagePixels: 4096 * 4096, maxInputBytes: 64 << 20 },
  };
}
