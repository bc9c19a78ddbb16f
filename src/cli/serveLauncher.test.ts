// `inkflow serve` runs in a node process of its own with the server's V8 flags: which commands relaunch,
// and, through the real bin/inkflow.js, that the serving process has the flags and lives and dies with the
// launcher.
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { commandOf, relaunchFlags, SERVE_NODE_FLAGS } from './serveLauncher.ts';
import { cleanupAll, spawnInkflowBin, tempDir } from '../../test/server/harness.ts';

afterAll(() => cleanupAll());

const cmdlineOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** The parent pid from /proc/PID/stat (after the command name in parentheses: state, then ppid); undefined once gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** The launcher's child that runs the CLI again (tsx also starts an esbuild process beside it). */
function relaunchedChild(launcher: number): number {
  const cli = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && parentOf(Number(name)) === launcher)
    .map(Number)
    .filter((pid) => cmdlineOf(pid).some((a) => a.endsWith('bin/inkflow.js')));
  expect(cli).toHaveLength(1);
  return cli[0];
}

/** Running (not gone, not a zombie waiting for its parent). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('serve launcher', () => {
  it('relaunches serve (only serve) with its flags, unless the user gave them', () => {
    expect(commandOf(['--cache', '/c', 'serve', '--port', '1'])).toBe('serve');
    expect(commandOf(['--cache=/c', 'generate'])).toBe('generate');
    expect(relaunchFlags(['serve', '--port', '1'], [], {})).toEqual([...SERVE_NODE_FLAGS]);
    expect(relaunchFlags(['--cache', '/c', 'serve'], ['--enable-source-maps'], {})).toEqual([...SERVE_NODE_FLAGS]);
    expect(relaunchFlags(['generate', 'serve'], [], {})).toBeUndefined();
    expect(relaunchFlags(['serve', '--help'], [], {})).toBeUndefined();
    expect(relaunchFlags(['serve'], ['--max-semi-space-size=16'], {})).toBeUndefined();
    expect(relaunchFlags(['serve'], [], { NODE_OPTIONS: '--max-semi-space-size=8' })).toBeUndefined();
  });

  it('`inkflow serve` serves from a child process with the flags; SIGTERM to the launcher stops both cleanly', async () => {
    const cli = spawnInkflowBin(['serve', '--port', '0', '--no-studio', '--data', tempDir()]);
    const [, url] = await cli.waitForOutput(/listening on (http:\/\/\S+)/);
    const server = relaunchedChild(cli.proc.pid!);
    const cmdline = cmdlineOf(server);
    for (const flag of SERVE_NODE_FLAGS) expect(cmdline).toContain(flag);
    expect(cmdline).toContain('serve');
    expect((await fetch(`${url}/queue`)).status).toBe(200);
    cli.proc.kill('SIGTERM');
    const code = await new Promise((r) => cli.proc.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(alive(server)).toBe(false);
  });

  it('a server whose launcher is killed outright (SIGKILL) stops by itself', async () => {
    const cli = spawnInkflowBin(['serve', '--port', '0', '--no-studio', '--data', tempDir()]);
    await cli.waitForOutput(/listening on/);
    const server = relaunchedChild(cli.proc.pid!);
    expect(alive(server)).toBe(true);
    cli.proc.kill('SIGKILL');
    await until(() => !alive(server), `server ${server} has stopped`);
  });
});
