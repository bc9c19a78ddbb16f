// Tag accuracy of the bundled text-to-image model (or any model folder given with --model) on colour
// combinations held out of its training (src/imaging/synthetic/tagAccuracy.ts explains the measure).
// Prints the model's accuracy beside the measure's ceiling (the generator's own pictures of the same
// prompts) and two controls (the model's pictures scored against another prompt's tags; chance).
//   npx tsx scripts/eval-default-t2i.ts [--model DIR] [--prompts 30] [--cfg 5] [--update-card]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../src/models/checkpoint/loadCheckpoint.ts';
import { defaultTextToImagePath, DEFAULT_T2I_SIZE } from '../src/models/defaultTextToImage.ts';
import { generate } from '../src/pipelines/generate/generate.ts';
import { captionOf, drawTaggedCharacter, isHeldOutCombination, TAGGED_PARTS } from '../src/imaging/synthetic/taggedCharacter.ts';
import { heldOutPrompts, learnPartLayout, scoreTags, summarise, type TagAccuracy } from '../src/imaging/synthetic/tagAccuracy.ts';
import { encodePng, type Image } from '../src/imaging/image.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    prompts: { type: 'string', default: '30' },
    steps: { type: 'string', default: '20' },
    cfg: { type: 'string', default: '5' },
    sampler: { type: 'string', default: 'dpmpp_2m' },
    scheduler: { type: 'string', default: 'karras' },
    threads: { type: 'string', default: '1' },
    grid: { type: 'string' },
    'update-card': { type: 'boolean', default: false },
  },
});

const size = DEFAULT_T2I_SIZE;
const modelDir = args.model ?? defaultTextToImagePath();
const count = Number(args.prompts);
// Seeds far from the training set's (0 … ~4500) and from the layout's.
const prompts = heldOutPrompts(count, 1_000_000, isHeldOutCombination);
const layout = learnPartLayout(size, 200, 2_000_000);
const ckpt = loadCheckpoint(modelDir, { threads: Number(args.threads), cacheDir: false });
const t0 = Date.now();
const images: Image[] = [];
for (const [i, p] of prompts.entries()) {
  const r = await generate(ckpt, { prompt: captionOf(p.tags), seed: 1000 + i, width: size, height: size, steps: Number(args.steps), cfg: Number(args.cfg), sampler: args.sampler, scheduler: args.scheduler });
  images.push(r.images[0]);
}
await ckpt.release();
const seconds = (Date.now() - t0) / 1000;

const model = summarise(images.map((img, i) => scoreTags(img, prompts[i].tags, layout)));
const ceiling = summarise(prompts.map((p) => scoreTags(drawTaggedCharacter(p.seed, size, p.tags).image, p.tags, layout)));
const mismatched = summarise(images.map((img, i) => scoreTags(img, prompts[(i + 1) % count].tags, layout)));

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const row = (name: string, a: TagAccuracy) => `| ${name} | ${TAGGED_PARTS.map((p) => pct(a.perPart[p])).join(' | ')} | ${pct(a.colour)} | ${pct(a.allColours)} | ${pct(a.pose)} |`;
const table = [
  `Tag accuracy on ${count} prompts whose (hair, shirt, pants) colour triple was held out of training`,
  `(${args.steps} steps ${args.sampler}/${args.scheduler}, cfg ${args.cfg}, 128², seeds 1000…; measure: src/imaging/synthetic/tagAccuracy.ts):`,
  '',
  '| pictures | hair | shirt | pants | colour tags | all 3 colours | arm pose |',
  '|---|---|---|---|---|---|---|',
  row('this model', model),
  row('generator\'s own pictures (ceiling of the measure)', ceiling),
  row('this model, scored against another prompt (control)', mismatched),
  '| chance | 10 % | 10 % | 10 % | 10 % | 0.1 % | 33 % |',
].join('\n');
console.log(table);
console.log(`\n${count} generations in ${seconds.toFixed(0)} s`);

if (args.grid) {
  const cols = Math.min(10, images.length);
  const rows = Math.ceil(images.length / cols);
  const grid: Image = { width: cols * size, height: rows * size, channels: 3, data: new Uint8Array(cols * size * rows * size * 3).fill(255) };
  images.forEach((img, k) => {
    const gx = (k % cols) * size;
    const gy = Math.floor(k / cols) * size;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) grid.data[((gy + y) * grid.width + gx + x) * 3 + c] = img.data[(y * size + x) * img.channels + c];
  });
  writeFileSync(args.grid, await encodePng(grid));
  console.log(`pictures: ${args.grid} (prompts in order: ${prompts.slice(0, 3).map((p) => captionOf(p.tags)).join(' | ')} …)`);
}

if (args['update-card']) {
  const path = join(modelDir, 'README.md');
  const card = readFileSync(path, 'utf8');
  const start = card.indexOf('## Evaluation');
  const end = card.indexOf('## Reproduce');
  if (start < 0 || end < 0) throw new Error(`${path} has no Evaluation / Reproduce sections`);
  writeFileSync(path, `${card.slice(0, start)}## Evaluation\n${table}\n\n`+ card.slice(end));
  console.log(`updated ${path}`);
}
