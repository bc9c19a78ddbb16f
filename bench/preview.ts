// `npm run bench -- preview`: the cost of one sampler step preview, as KSampler pays it every step (latent →
// JPEG bytes), at 512² and 1024² images (64² and 128² latents). latent2rgb = ComfyUI's linear factors at
// latent size; taesd 256 / 512 = the TAESD-format tiny decoder (random weights, the real layout) on the
// latent averaged down to a ≤ 256 px (the default) or ≤ 512 px preview; "taesd full" = the decoder on the
// whole latent (what ComfyUI's full-size TAESD decode costs, for comparison). Goal: cheap next to a UNet step (SD1.5 512² ≈ 2.3 s, with CFG ≈ 4.6 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stepPreviewer, releasePreviewDecoders } from '../src/pipelines/preview/stepPreviewer.ts';
import { loadTaesdDecoder } from '../src/models/taesd/loadTaesd.ts';
import { writeRandomTaesdDecoder } from '../test/taesdFile.ts';

async function timeIt(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn(); // first call compiles / warms up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function runPreviewBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'inkflow-bench-preview-'));
  try {
    await writeRandomTaesdDecoder(join(dir, 'taesd_decoder.safetensors'), 1);
    const linear = stepPreviewer('sd1');
    const taesd256 = stepPreviewer('sd1', { vaeApproxDirs: [dir], cacheDir: false, previewSide: 256 });
    const taesd512 = stepPreviewer('sd1', { vaeApproxDirs: [dir], cacheDir: false, previewSide: 512 });
    const full = loadTaesdDecoder(join(dir, 'taesd_decoder.safetensors'), { cacheDir: false });
    console.log(`load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores; median of 5, ms per preview (latent → JPEG)`);
    for (const side of [512, 1024]) {
      const lat = side / 8;
      const shape = [1, 4, lat, lat];
      const z = Float32Array.from({ length: 4 * lat * lat }, (_, i) => Math.sin(i * 0.37) * 2);
      const l = await timeIt(() => linear.preview(z, shape), 5);
      const t256 = await timeIt(() => taesd256.preview(z, shape), 5);
      const t512 = await timeIt(() => taesd512.preview(z, shape), 5);
      const f = await timeIt(() => full.decode(z, shape), 3);
      console.log(
        `preview ${side}²: latent2rgb ${l.toFixed(1)} ms (${lat}² px), taesd ${t256.toFixed(0)} ms (256 px, default), taesd ${t512.toFixed(0)} ms (512 px), taesd full ${f.toFixed(0)} ms (${side}² px, decode only)`,
      );
    }
    await full.release();
  } finally {
    await releasePreviewDecoders();
    rmSync(dir, { recursive: true, force: true });
  }
}
