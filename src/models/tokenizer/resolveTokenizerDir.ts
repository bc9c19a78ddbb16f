// Where the CLIP BPE tables (vocab.json + merges.txt) come from. inkflow does not ship them: they are
// read from the model folder, an explicit folder, INKFLOW_TOKENIZER, or the Hugging Face hub cache.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface TokenizerDirOptions {
  /** Explicit folder holding vocab.json + merges.txt; checked first. */
  tokenizerDir?: string;
  /** A model folder: checked itself and its diffusers-style `tokenizer/` subfolder. */
  modelDir?: string;
  /** Environment to read INKFLOW_TOKENIZER / HF_HUB_CACHE / HF_HOME from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home folder for the default HF cache (default os.homedir()). */
  homeDir?: string;
}

const HF_CLIP_REPO = 'models--openai--clip-vit-large-patch14';

function hasTables(dir: string): boolean {
  return existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'));
}

/** Hugging Face hub cache root, following huggingface_hub: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
function hfHubCache(env: Readonly<Record<string, string | undefined>>, home: string): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return join(env.HF_HOME ?? join(home, '.cache', 'huggingface'), 'hub');
}

/** The candidate folders in search order, with a label saying why each is there. */
export function tokenizerDirCandidates(opts: TokenizerDirOptions = {}): { dir: string; source: string }[] {
  const env = opts.env ?? process.env;
  const out: { dir: string; source: string }[] = [];
  if (opts.tokenizerDir) out.push({ dir: resolve(opts.tokenizerDir), source: 'tokenizerDir option' });
  if (opts.modelDir) {
    out.push({ dir: resolve(opts.modelDir), source: 'model folder' });
    out.push({ dir: resolve(opts.modelDir, 'tokenizer'), source: 'model folder tokenizer/' });
  }
  if (env.INKFLOW_TOKENIZER) out.push({ dir: resolve(env.INKFLOW_TOKENIZER), source: 'INKFLOW_TOKENIZER' });
  const snapshots = join(hfHubCache(env, opts.homeDir ?? homedir()), HF_CLIP_REPO, 'snapshots');
  let found = false;
  if (existsSync(snapshots) && statSync(snapshots).isDirectory()) {
    for (const name of readdirSync(snapshots).sort()) {
      out.push({ dir: join(snapshots, name), source: 'Hugging Face cache' });
      found = true;
    }
  }
  if (!found) out.push({ dir: join(snapshots, '*'), source: 'Hugging Face cache' });
  return out;
}

/**
 * The first folder containing both vocab.json and merges.txt. Throws an error that lists every
 * place searched, so a user can see what to set.
 */
export function resolveTokenizerDir(opts: TokenizerDirOptions = {}): string {
  const candidates = tokenizerDirCandidates(opts);
  for (const c of candidates) if (hasTables(c.dir)) return c.dir;
  const lines = candidates.map((c) => `  - ${c.dir} (${c.source})`);
  throw new Error(
    'CLIP tokenizer tables (vocab.json + merges.txt) not found. Looked in:\n' + lines.join('\n') +
      '\nSet INKFLOW_TOKENIZER to a folder holding vocab.json and merges.txt ' +
      '(e.g. the tokenizer/ folder of a diffusers Stable Diffusion model, or openai/clip-vit-large-patch14).',
  );
}
