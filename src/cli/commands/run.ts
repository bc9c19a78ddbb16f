// `inkflow run WORKFLOW.json | IMAGE.png`: runs a ComfyUI API-format workflow through the same executor
// as the server, with a progress bar; a PNG saved by ComfyUI or inkflow is run again from its `prompt`
// tEXt chunk (its `workflow` chunk is carried into the new PNGs).
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFileLimited } from '../../files/readLimited.ts';
import { readPngText } from '../../imaging/image.ts';
import type { ApiPrompt } from '../../workflow/api.ts';
import { dataFolderEnv } from '../../workflow/dataFolder.ts';
import { parseJsonExact } from '../../workflow/jsonExact.ts';
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
  if (extname(path).toLowerCase() === '.png') {
    const text = readPngText(bytes);
    if (!text.prompt) throw new UsageError(`${path} has no workflow — no "prompt" tEXt chunk (only PNGs saved by ComfyUI or inkflow carry one)`);
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(text)) {
      if (k === 'prompt' || k === 'inkflow') continue;
      try {
        extra[k] = JSON.parse(v);
      } catch {
        // a chunk that is not JSON (a comment, a tool's note) is not extra_pnginfo
      }
    }
    return { prompt: parsePrompt(text.prompt, path), extraPngInfo: Object.keys(extra).length ? extra : undefined };
  }
  return { prompt: parsePrompt(bytes.toString('utf8'), path) };
}

function parsePrompt(json: string, path: string): ApiPrompt {
  let v: unknown;
  try {
    v = parseJsonExact(json);
  } catch (e) {
    throw new UsageError(`${path} is not JSON — ${(e as Error).message}`);
  }
  if (v && typeof v === 'object' && !Array.isArray(v) && 'prompt' in v && typeof (v as { prompt: unknown }).prompt === 'object') v = (v as { prompt: unknown }).prompt;
  if (v && typeof v === 'object' && Array.isArray((v as { nodes?: unknown }).nodes)) {
    throw new UsageError(`${path} is a ComfyUI UI workflow, not the API format (export it with Workflow → Export (API))`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${path} is not an API-format workflow — expected an object of nodes {"1": {"class_type": …, "inputs": …}}`);
  return v as ApiPrompt;
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
