// `inkflow colorize`: colour line art from a reference sheet. --flat runs the model-free
// paint-bucket colouriser; the settings are embedded in the output PNG as tEXt.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage, encodePng } from '../../imaging/image.ts';
import { flatColorize } from '../../pipelines/flat/colorize.ts';
import { type Command, UsageError } from '../command.ts';

const HELP = `usage: inkflow colorize --reference REF.png --lineart LINE.png --flat [-o OUT.png]

Colours line art from a character reference sheet.

options:
  --reference FILE   the character sheet / reference image (flat colours, dark outlines)
  --lineart FILE     the line art to colour (dark lines on light paper, or white on black)
  --flat             model-free paint-bucket colouring: regions of the line art are matched to the
                     reference's flat colour regions and filled with exact palette colours
  -o, --output FILE  output PNG (default colored.png); the flat colour layer is written beside it
                     as <name>-flat.png
  -h, --help         this help`;

export const colorizeCommand: Command = {
  name: 'colorize',
  summary: 'colour line art from a reference sheet (--flat: model-free paint bucket)',
  help: HELP,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        reference: { type: 'string' },
        lineart: { type: 'string' },
        flat: { type: 'boolean', default: false },
        output: { type: 'string', short: 'o', default: 'colored.png' },
      },
      strict: true,
    });
    if (!values.reference) throw new UsageError('--reference is required');
    if (!values.lineart) throw new UsageError('--lineart is required');
    if (!values.flat) throw new UsageError('only --flat colouring is available in this build (diffusion colouring needs --model, not bundled yet)');
    const output = values.output!;
    if (extname(output).toLowerCase() !== '.png') throw new UsageError(`output must be a .png file, got ${output}`);

    const t0 = performance.now();
    const reference = await decodeImage(readInput(values.reference), 3, values.reference);
    const lineArt = await decodeImage(readInput(values.lineart), 3, values.lineart);
    const result = flatColorize({ reference, lineArt });
    const settings = JSON.stringify({ method: 'flat', reference: values.reference, lineart: values.lineart, palette: result.palette.colors });
    mkdirSync(dirname(output) || '.', { recursive: true });
    writeFileSync(output, await encodePng(result.composite, { inkflow: settings }));
    const flatPath = output.replace(/\.png$/i, '-flat.png');
    writeFileSync(flatPath, await encodePng(result.flat, { inkflow: settings }));
    const ms = performance.now() - t0;
    console.log(`coloured ${lineArt.width}×${lineArt.height} line art with ${result.palette.colors.length} palette colours in ${ms.toFixed(0)} ms → ${output} (flat layer: ${flatPath})`);
    return 0;
  },
};

function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
