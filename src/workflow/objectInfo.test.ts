import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTranscript, tempWorkflowEnv } from '../../test/workflow/transcripts.ts';
import { objectInfo, objectInfoFor } from './objectInfo.ts';
import { nodeRegistry } from './registry.ts';

const recorded = readTranscript('d_object_info_core.json');

describe('objectInfo', () => {
  const env = tempWorkflowEnv();
  // The input folder of the recording, so LoadImage's choice list matches.
  for (const name of recorded.nodes.LoadImage.input.required.image[0] as string[]) writeFileSync(join(env.inputDir, name), '');
  writeFileSync(join(env.inputDir, 'notes.txt'), '');
  const info = objectInfo(env);

  // Nodes whose choice lists depend on the sampler set or model folders are compared in the generation tests.
  const same = Object.keys(recorded.nodes).filter((n) => nodeRegistry().has(n) && !['KSampler', 'KSamplerAdvanced'].includes(n));

  it('declares the recorded core nodes it has', () => {
    expect(same.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of same) {
    it(`${name} matches ComfyUI's entry`, () => {
      expect(info[name]).toStrictEqual(recorded.nodes[name]);
    });
  }

  it('uses ComfyUI class names for every node ComfyUI has, and inkflow/ for its own', () => {
    const core = new Set(recorded.all_node_names as string[]);
    for (const [name, def] of nodeRegistry()) {
      if (!core.has(name)) expect(def.category.startsWith('inkflow/'), name).toBe(true);
    }
  });

  it.each(['KSampler', 'KSamplerAdvanced'])('%s matches ComfyUI\'s entry except for the samplers and schedulers inkflow does not implement', (name) => {
    const want = structuredClone(recorded.nodes[name]);
    const got = structuredClone(info[name]) as typeof want;
    for (const input of ['sampler_name', 'scheduler']) {
      const [wanted] = want.input.required[input];
      const [have] = got.input.required[input];
      for (const s of have as string[]) expect(wanted).toContain(s);
      expect((have as string[]).length).toBeGreaterThanOrEqual(5);
      got.input.required[input][0] = wanted;
    }
    expect(got).toStrictEqual(want);
  });

  it('answers a single class, and {} for an unknown one', () => {
    expect(objectInfoFor(env, 'ImageInvert')).toStrictEqual({ ImageInvert: recorded.nodes.ImageInvert });
    expect(objectInfoFor(env, 'NoSuchNode')).toStrictEqual({});
  });
});
