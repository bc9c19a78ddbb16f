// `inkflow run WORKFLOW.json | IMAGE.png`: runs a ComfyUI API-format workflow through the same executor
// as the server, with a progress bar; a PNG saved by ComfyUI or inkflow is run again from its `prompt`
// tEXt chunk (its `workflow` chunk is carried into the new PNGs).
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFileLimited } from '../../files/readLimited.ts';
import type { ApiPrompt } from '../../workflow/api.ts';
import { dataFolderEnv } from '../../workflow/dataFolder.ts';
import { parseApiPrompt, workflowFromPng, WorkflowFileError } from '../../workflow/pngWorkflow.ts';
import { type Command, UsageError } from '../command.ts';
import { runCliWorkflow } from '../runWorkflow.ts';

const HELP = `usage: inkflow run WORKFLOW.json [options]
       inkflow run IMAGE.png [options]

Runs a ComfyUI API-format workflow (in ComfyUI: Workflow → Export (API)), or the workflow embedded in a
PNG saved by ComfyUI or inkflow. Node names, inputs and defaults are ComfyUI's (inkflow's own nodes are
under inkflow/); file names in the workflow are looked up in the data folder.

  --data DIR        data folder laid out as ComfyUI's: input/ output/ temp/ models/<kind>/
                    (default: $INKFLOW_DATA, else the current folder)
  --models DIR      also search an existing ComfyUI or A1111 models folder
  --input DIR       where LoadImage finds its images (default DATA/input)
  --output DIR      where SaveImage writes (default DATA/output)
  --tokenizer DIR   CLIP vocab.json + merges.txt (single-file checkpoints carry none)
  --device cpu|cuda execution provider (default cpu)
  -h, --help        this help`;

const OPTIONS = {
  data: { type: 'string' },
  models: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  tokenizer: { type: 'string' },
  device: { type: 'string' },
} as const;

/** The API prompt (and extra_pnginfo to carry on) from a workflow JSON file or a PNG's tEXt chunks. */
export function readWorkflowFile(path: string): { prompt: ApiPrompt; extraPngInfo?: Record<string, unknown> } {
  let bytes: Buffer;
  try {
    bytes = readFileLimited(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path} — ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    if (extname(path).toLowerCase() === '.png') {
      const png = workflowFromPng(bytes, path);
      if (!png.prompt) throw new UsageError(`${path} has no workflow to run — no "prompt" tEXt chunk (its "workflow" chunk is the UI format; open it in ComfyUI or the studio)`);
      return { prompt: png.prompt, extraPngInfo: Object.keys(png.extraPngInfo).length ? png.extraPngInfo : undefined };
    }
    return { prompt: parseApiPrompt(bytes.toString('utf8'), path) };
  } catch (e) {
    if (e instanceof WorkflowFileError) throw new UsageError(e.message);
    throw e;
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a ComfyUI API-format workflow (JSON, or the one embedded in a PNG) with a progress bar',
  help: HELP,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const v = parsed.values;
    if (parsed.positionals.length !== 1) throw new UsageError('give one workflow: inkflow run WORKFLOW.json or inkflow run IMAGE.png');
    const device = v.device ?? 'cpu';
    if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got ${device}`);
    const file = resolve(parsed.positionals[0]);
    const { prompt, extraPngInfo } = readWorkflowFile(file);
    const env = dataFolderEnv(v.data ?? process.env.INKFLOW_DATA ?? '.', { models: v.models, device, tokenizerDir: v.tokenizer });
    if (v.input) env.inputDir = resolve(v.input);
    if (v.output) env.outputDir = resolve(v.output);

    const result = await runCliWorkflow(prompt, env, { label: file, extraPngInfo });
    if (result.status === 'interrupted') {
      process.stderr.write('inkflow: interrupted — nothing more was written\n');
      return 130;
    }
    for (const f of result.files) console.log(f);
    return 0;
  },
};
