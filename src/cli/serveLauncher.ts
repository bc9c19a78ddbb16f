// `inkflow serve` runs in a node process started with SERVE_NODE_FLAGS. The server's main thread answers
// every POST and writes every queue status to every open socket; what it allocates doing so is short-lived
// (~100 kB per job in bench/server.ts). With V8's default 16 MB semi-spaces a young-generation collection
// (1–12 ms) came every 130–170 jobs, some of them inside requests: V8 runs it as a task between callbacks
// when it can, and inside whatever allocates when the space fills first. Allowed 64 MB, V8 grew the
// semi-spaces to 32 MB under the bench's load: half as many collections (3 instead of 6 per 1000 jobs), for
// about the same cost each (a scavenge copies only what survives), with more room to run them as tasks, for
// 20 MB more peak RSS. These are V8 heap sizes, fixed when the heap is set up: v8.setFlagsFromString
// at run time leaves an existing heap as it is (measured), so the flags must be on node's command line.
// bin/inkflow.js therefore runs `serve` again in a child node process with them (node 20 has no exec),
// unless they are already given (in node's arguments or NODE_OPTIONS).
import { spawn } from 'node:child_process';

/** Node flags of the `inkflow serve` process (bench/server.ts starts its server with the same). */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

/** Commands that run with SERVE_NODE_FLAGS. */
const FLAGGED_COMMANDS = new Set(['serve']);

/** Set in the relaunched process's environment: its IPC channel is the launcher's. */
const LAUNCHED_ENV = 'INKFLOW_LAUNCHED_BY';

/** The command name in CLI arguments (the first that is not the global `--cache DIR`). */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--cache') i++;
    else if (!args[i].startsWith('--cache=')) return args[i];
  }
  return undefined;
}

/**
 * The node flags to run the CLI again with for `args`, or undefined when it should run in this process:
 * another command, `--help`, or a V8 flag already given by the user (theirs wins; no second process).
 */
export function relaunchFlags(args: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] | undefined {
  const command = commandOf(args);
  if (command === undefined || !FLAGGED_COMMANDS.has(command) || args.includes('--help') || args.includes('-h')) return undefined;
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  const userSetOne = SERVE_NODE_FLAGS.some((flag) => {
    const name = flag.split('=')[0];
    return given.some((g) => g === name || g.startsWith(`${name}=`));
  });
  return userSetOne ? undefined : [...SERVE_NODE_FLAGS];
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `script args` in a child node process with `flags` (and this process's own node arguments, e.g.
 * tsx's loader) and resolves with its exit code. The child has a process group of its own, so a terminal's
 * Ctrl-C reaches it once, forwarded from here, exactly as if it were this process (a second Ctrl-C still
 * stops it at once); if this launcher is killed outright, the child sees its IPC channel close and stops
 * cleanly (stopWhenLauncherGoes).
 */
export function runRelaunched(flags: readonly string[], script: string, args: readonly string[]): Promise<number> {
  // Windows has no process groups (a detached child would open a console of its own) and child.kill ends a
  // process outright; there the console's Ctrl-C reaches both processes, and this one only waits.
  const windows = process.platform === 'win32';
  const child = spawn(process.execPath, [...flags, ...process.execArgv, script, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: !windows,
    env: { ...process.env, [LAUNCHED_ENV]: String(process.pid) },
  });
  const forward = (signal: NodeJS.Signals) => !windows && child.kill(signal);
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const s of FORWARDED_SIGNALS) process.off(s, forward);
      // Killed by a signal: end the same way, so whoever started `inkflow` sees what happened.
      if (signal) process.kill(process.pid, signal);
      resolve(code ?? 1);
    });
  });
}

/**
 * In a process started by runRelaunched: when the launcher goes away (killed with SIGKILL, so it could not
 * forward anything), stop as on SIGTERM rather than run on with nobody to stop it. A no-op otherwise.
 */
export function stopWhenLauncherGoes(): void {
  if (process.env[LAUNCHED_ENV] === undefined || !process.channel) return;
  delete process.env[LAUNCHED_ENV]; // not inherited by anything this process starts
  process.channel.unref(); // the channel alone must not keep the process alive
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
