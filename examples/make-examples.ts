// `tsx examples/make-examples.ts [--seed 7] [--out examples]`: writes the bundled sample — a generated
// character sheet (character-sheet.png, the reference) and the same character's line art in another pose
// (lineart.png), both 512². The README's main command colours this pair with the flat colouriser.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../src/imaging/image.ts';
import { generateCharacterPair } from '../src/imaging/synthetic/characterSheet.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seed = Number(arg('--seed') ?? 7);
const out = arg('--out') ?? dirname(fileURLToPath(import.meta.url));
if (!Number.isInteger(seed)) {
  console.error('--seed needs an integer');
  process.exit(2);
}
const pair = generateCharacterPair({ seed, width: 512 });
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'character-sheet.png'), await encodePng(pair.reference, { inkflow: `synthetic character sheet, seed ${seed}` }));
writeFileSync(join(out, 'lineart.png'), await encodePng(pair.targetLineArt, { inkflow: `synthetic line art (target pose), seed ${seed}` }));
console.log(`wrote ${join(out, 'character-sheet.png')} and ${join(out, 'lineart.png')} (seed ${seed}, ${pair.palette.length} colours)`);
