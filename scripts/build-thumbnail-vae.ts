// Writes the thumbnail VAE (src/train/thumbnailVae.ts: the bundled VAE's architecture with hand-set
// weights — 4×4 average-pool encoder, nearest 4× decoder) as a diffusers folder.
//   npx tsx scripts/build-thumbnail-vae.ts --out DIR [--rms 0.9172,0.9139,0.9210] [--shift 0.769,0.7503,0.7424 | --no-shift]
import { parseArgs } from 'node:util';
import { CHARACTER_MEAN, CHARACTER_RMS, writeThumbnailVae } from '../src/train/thumbnailVae.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: '.scratch/thumbnail-vae' }, rms: { type: 'string' }, shift: { type: 'string' }, 'no-shift': { type: 'boolean', default: false } } });
const list = (v: string | undefined, fallback: readonly number[]) => (v ? v.split(',').map(Number) : fallback);
await writeThumbnailVae(args.out!, list(args.rms, CHARACTER_RMS), args['no-shift'] ? [0, 0, 0] : list(args.shift, CHARACTER_MEAN));
console.log(`wrote ${args.out}`);
