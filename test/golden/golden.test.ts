// Data-driven golden runner: walks the golden folder and lets handlers claim folders.
// A new golden folder of a known kind becomes a new test without code changes.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'vitest';
import type { GoldenHandler } from './handler.ts';
import { goldenRoot, fileExists } from './io.ts';

const modules = import.meta.glob<{ handler: GoldenHandler }>('./handlers/*.ts', { eager: true });
const handlers = Object.values(modules).map((m) => m.handler).filter(Boolean);

const MARKERS = ['config.json', 'manifest.json', 'schedule.json', 'io.json', 'index.json', 'torch_rng.json', 'clip_tokenizer.json'];

function walk(dir: string): void {
  const handler = handlers.find((h) => h.recognise(dir));
  const rel = relative(goldenRoot, dir) || '.';
  if (handler) {
    describe(`golden ${handler.name}: ${rel}`, () => handler.register(dir));
    return;
  }
  if (dir !== goldenRoot && MARKERS.some((m) => fileExists(join(dir, m)))) {
    it.todo(`golden ${rel}: no handler recognises this folder yet`);
  }
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
  }
}

if (!fileExists(goldenRoot)) {
  throw new Error(`golden folder not found at ${goldenRoot}; set INKFLOW_GOLDEN`);
}
walk(goldenRoot);
