// Small text files (config.json, scheduler configs, tokenizer tables) read with a byte limit, so a
// config that is really a FIFO, /dev/zero or a multi-GB file fails at once instead of filling memory.
import { readFileLimited } from './readLimited.ts';

/** Configs and tokenizer tables are at most a few MB (CLIP's vocab.json is 1.6 MB). */
export const TEXT_FILE_LIMIT = 64 * 1024 * 1024;

export function readTextLimited(path: string, limit = TEXT_FILE_LIMIT): string {
  return readFileLimited(path, limit).toString('utf8');
}
