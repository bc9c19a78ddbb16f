#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, run through tsx's loader so no build step is needed. `inkflow serve`
// runs again in a child node process with the server's V8 flags (src/cli/serveLauncher.ts).
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';
register();
const { relaunchFlags, runRelaunched, stopWhenLauncherGoes } = await import('../src/cli/serveLauncher.ts');
const args = process.argv.slice(2);
const flags = relaunchFlags(args, process.execArgv, process.env);
if (flags) process.exitCode = await runRelaunched(flags, fileURLToPath(import.meta.url), args);
else {
  stopWhenLauncherGoes();
  await import('../src/cli/main.ts');
}
