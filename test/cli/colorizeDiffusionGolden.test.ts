// `inkflow colorize --model FILE --mode …` as a child process reproduces the sampling runs of the ORIGINAL
// ColorizeDiffusion code recorded in golden/colorize_diffusion: the golden's input tensors and masks are
// handed over as .npy files (a PNG would round them), with the run's seed, steps, guidance and prediction
// type from manifest.json, and the written PNG is compared with the golden's decoded image, uint8 ±1.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, readPngText } from '../../src/imaging/image.ts';
import { encodeNpy } from '../../src/pipelines/colorize/colorizeDiffusionInputs.ts';
import { signedToImage } from '../../src/pipelines/colorize/colorizeDiffusionPipeline.ts';
import { attentionPaths } from '../../src/models/splitAttention/colorizeModel.ts';
import { inferLdmUNetConfig } from '../../src/models/unet/ldmConfig.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { goldenRoot, readBin } from '../golden/io.ts';
import { readManifest, strengthSequence } from '../golden/handlers/colorizeDiffusion.ts';
import { inkflowRunner } from './runInkflow.ts';

const out = mkdtempSync(join(tmpdir(), 'inkflow-cli-cd-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const dir = join(goldenRoot, 'colorize_diffusion');
const manifest = readManifest(dir);

const inkflow = inkflowRunner(join(out, 'cache'));

function npy(name: string): string {
  const e = manifest!.tensors[name];
  const path = join(out, `${name.replace(/\//g, '_')}.npy`);
  writeFileSync(path, encodeNpy({ shape: e.shape, data: readBin(join(dir, e.file), 'float32') as Float32Array }));
  return path;
}

describe('inkflow colorize reproduces the original ColorizeDiffusion runs', () => {
  it('finds the golden', () => {
    expect(manifest, `${dir}/manifest.json`).toBeDefined();
  });
  if (!manifest) return;
  const model = join(dir, manifest.model_file.file);
  const reader = openSafetensors(model);
  const blocks = attentionPaths(inferLdmUNetConfig(reader)).length;
  reader.close();
  const strengths = strengthSequence(manifest);
  const unetCalls = Object.keys(manifest.calls.unet).length;

  Object.entries(manifest.calls.runs).forEach(([name, r], i) => {
    it(`${name}: --mode ${r.mode} --seed ${r.seed} --steps ${r.step}, guidance ${r.gs.join('/')} → the decoded image ±1`, async () => {
      const png = join(out, `${name}.png`);
      const res = await inkflow(
        'colorize', '--model', model, '--mode', r.mode, '--seed', String(r.seed), '--steps', String(r.step),
        '--ref-guidance', String(r.gs[0]), '--sketch-guidance', String(r.gs[1]), '--prediction', r.parameterization,
        '--reference', npy('inputs/reference'), '--lineart', npy('inputs/sketch'),
        '--sketch-mask', npy('inputs/smask_image'), '--reference-mask', npy('inputs/rmask'),
        // the per-block reference strengths the original had at this run (see strengthSequence)
        '--reference-strength', strengths[unetCalls + i](blocks).join(','),
        '-o', png,
      );
      expect(res.code, res.stderr).toBe(0);
      const bytes = readFileSync(png);
      const img = await decodeImage(bytes, 3);
      const e = manifest.tensors[`runs/${name}/decoded`];
      const decoded = { shape: e.shape, data: readBin(join(dir, e.file), 'float32') as Float32Array };
      const want = signedToImage(decoded, { left: 0, top: 0, width: e.shape[3], height: e.shape[2] });
      expect([img.width, img.height]).toEqual([want.width, want.height]);
      let worst = 0;
      for (let k = 0; k < img.data.length; k++) worst = Math.max(worst, Math.abs(img.data[k] - want.data[k]));
      console.log(`[cli golden] ${name}: PNG vs the original's decoded image, uint8 max abs err ${worst} (tol 1)`);
      expect(worst).toBeLessThanOrEqual(1);
      expect(JSON.parse(readPngText(bytes).inkflow)).toMatchObject({ method: 'colorize-diffusion', mode: r.mode, steps: r.step, seed: String(r.seed) });
    }, 120_000);
  });
});
