// A child process for src/runtime/compileCache.test.ts: compiles the TAESD decoder graph (random weights,
// fixed seed) into the default compile cache (INKFLOW_CACHE), starting only when `<barrier>` exists so two
// children race for the same entry, runs it once and prints {fromCache, key, sum, staged} as JSON.
import { existsSync, readdirSync } from 'node:fs';
import { randomWeights } from '../../src/graph/randomWeights.ts';
import { compile } from '../../src/runtime/session.ts';
import { taesdDecoderGraph } from '../../src/models/taesd/taesdDecoder.ts';

const barrier = process.argv[2];
const g = taesdDecoderGraph([1, 4, 8, 8]);
const weights = randomWeights(g, { seed: 11 });
process.stdout.write('ready\n');
while (barrier && !existsSync(barrier)) await new Promise((r) => setTimeout(r, 5));
const model = await compile(g, weights);
// A compile staged in RAM leaves its stage until the background copy into the cache is done.
const staged = existsSync('/dev/shm') && readdirSync('/dev/shm').some((n) => n.startsWith(`inkflow-compile-${process.pid}-`));
const out = await model.run({ latents: Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)) });
const data = out.image.data as Float32Array;
let sum = 0;
for (const v of data) sum += v;
await model.release();
process.stdout.write(`${JSON.stringify({ fromCache: model.fromCache, key: model.key, sum, staged })}\n`);
