// Writes the thumbnail VAE (src/train/thumbnailVae.ts: the bundled VAE's architecture with hand-set
// weights — 4×4 average-pool encoder, nearest 4× decoder) as a diffusers folder.
//   npx tsx scripts/build-thumbnail-vae.ts --out DIR [--rms 0.9172,0.9139,0.9210]
import { parseArgs } from 'node:util';
import { CHARACTER_RMS, writeThumbnailVae } from '../src/train/thumbnailVae.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: '.scratch/thumbnail-vae' }, rms: { type: 'string' } } });
await writeThumbnailVae(args.out!, args.rms ? args.rms.split(',').map(Number) : CHARACTER_RMS);
console.log(`wrote ${args.out}`);
