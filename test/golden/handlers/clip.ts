// Golden handler for the clip/ folder (manifest.json + config_text_*.json): every model in the manifest
// (CLIPTextModel SD1/SD2, ...WithProjection, CLIPVisionModel, ...WithProjection) is run on its recorded
// inputs and every recorded output of each prefix is compared at 1e-4. When the SDRO pipeline golden is
// present, its CLIPImageProcessor pixel values and image_encoder last_hidden_state are checked too.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { GoldenHandler } from '../handler.ts';
import { expectClose, fileExists, goldenRoot, readBin, readF32, readJson } from '../io.ts';
import { openSafetensors } from '../../../src/weights/safetensors.ts';
import { safetensorsWeights } from '../../../src/weights/store.ts';
import { parseClipTextConfig, parseClipVisionConfig } from '../../../src/models/clip/config.ts';
import { clipTextEncoder } from '../../../src/models/clip/textEncoder.ts';
import { clipVisionEncoder, loadClipVisionEncoder } from '../../../src/models/clip/visionEncoder.ts';
import { clipImageProcessor, readClipImageProcessorConfig } from '../../../src/models/clip/imageProcessor.ts';
import { decodeImage } from '../../../src/imaging/image.ts';

interface TensorEntry { file: string; dtype: string; shape: number[] }
interface ModelEntry { class: string; config: unknown; weights: string[]; outputs_prefix: string[] }
interface Manifest { models: Record<string, ModelEntry>; tensors: Record<string, TensorEntry> }

const TOL = 1e-4;

/** Golden output suffix → our output name, per tower. */
const TEXT_OUTPUTS: Record<string, string> = {
  last_hidden_state: 'last_hidden_state', pooler_output: 'pooler_output', hidden_states_all: 'hidden_states',
  hidden_states_m2: 'skip_hidden_state', hidden_states_m2_final_ln: 'skip_hidden_state_ln', text_embeds: 'text_embeds',
};
const VISION_OUTPUTS: Record<string, string> = {
  last_hidden_state: 'last_hidden_state', pooler_output: 'pooler_output', hidden_states_all: 'hidden_states',
  hidden_states_m2: 'penultimate_hidden_state', image_embeds: 'image_embeds',
};

export const handler: GoldenHandler = {
  name: 'clip',
  recognise(dir) {
    if (!fileExists(join(dir, 'manifest.json'))) return false;
    return readdirSync(dir).some((f) => /^config_text_.*\.json$/.test(f));
  },
  register(dir) {
    const manifest = readJson<Manifest>(join(dir, 'manifest.json'));
    const store = (files: string[]) => safetensorsWeights(files.map((f) => openSafetensors(join(dir, f))));
    for (const [modelName, model] of Object.entries(manifest.models)) {
      const isText = model.class.startsWith('CLIPText');
      const outputsMap = isText ? TEXT_OUTPUTS : VISION_OUTPUTS;
      for (const spec of model.outputs_prefix) {
        const m = /^(\w+__) \(input (\w+)\)$/.exec(spec);
        if (!m) continue; // notes such as "(last_hidden_state/pooler_output identical to vision__)"
        const [, prefix, inputName] = m;
        it(`${modelName}: ${prefix} outputs from ${inputName}`, async () => {
          const input = manifest.tensors[inputName];
          const expected = Object.entries(manifest.tensors).filter(([k]) => k.startsWith(prefix));
          expect(expected.length).toBeGreaterThan(0);
          let out: Record<string, { shape: readonly number[]; data: Float32Array }>;
          if (isText) {
            const ids = readBin(join(dir, input.file), 'int32') as Int32Array;
            const [b, s] = input.shape;
            const rows = Array.from({ length: b }, (_, r) => Array.from(ids.subarray(r * s, (r + 1) * s)));
            const enc = clipTextEncoder(parseClipTextConfig(model.config, modelName), store(model.weights), { cacheDir: false });
            out = await enc.encode(rows, { hiddenStates: true, skip: 1 });
            await enc.release();
          } else {
            const enc = clipVisionEncoder(parseClipVisionConfig(model.config, modelName), store(model.weights), { cacheDir: false });
            out = await enc.encode({ shape: input.shape, data: readF32(join(dir, input.file)) }, { hiddenStates: true });
            await enc.release();
          }
          for (const [key, entry] of expected) {
            const suffix = key.slice(prefix.length);
            const ours = outputsMap[suffix];
            expect(ours, `no mapping for golden output ${key}`).toBeDefined();
            expect(out[ours].shape, key).toEqual(entry.shape);
            expectClose(`clip ${key}`, out[ours].data, readF32(join(dir, entry.file)), TOL);
          }
        });
      }
    }

    const sdro = join(goldenRoot, 'sdro_pipeline');
    if (fileExists(join(sdro, 'image_encoder', 'config.json'))) {
      it('sdro_pipeline: CLIPImageProcessor(reference.png) and image_encoder last_hidden_state', async () => {
        const processor = clipImageProcessor(readClipImageProcessorConfig(join(sdro, 'clip_image_processor', 'preprocessor_config.json')));
        const pixels = processor(await decodeImage(join(sdro, 'reference.png'), 3));
        const want = readF32(join(sdro, 'tensors', 'reference_pixel_values.bin'));
        expect(pixels.shape).toEqual([1, 3, 32, 32]);
        expectClose('sdro reference_pixel_values', pixels.data, want, 1e-4);
        const enc = await loadClipVisionEncoder(join(sdro, 'image_encoder'), { cacheDir: false });
        const out = await enc.encode({ shape: [1, 3, 32, 32], data: want });
        expectClose('sdro clip_last_hidden_state', out.last_hidden_state.data, readF32(join(sdro, 'tensors', 'clip_last_hidden_state.bin')), TOL);
        const chained = await enc.encode(pixels);
        expectClose('sdro clip_last_hidden_state (from our pixels)', chained.last_hidden_state.data, readF32(join(sdro, 'tensors', 'clip_last_hidden_state.bin')), TOL);
        await enc.release();
      });
    }
  },
};
