// `inkflow serve` runs in a node process of its own with the server's V8 flags: which commands relaunch,
// and, through the real bin/inkflow.js, that the serving process has the flags and lives and dies with the
// launcher.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { commandOf, relaunchFlags, SERVE_NODE_FLAGS } from './serveLauncher.ts';
import { cleanupAll, spawnInkflowBin, tempDir } from '../../test/server/harness.ts';

afterAll(() => cleanupAll());

const cmdlineOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** The launcher's child that runs the CLI again (tsx also starts an esbuild process beside it). */
function relaunchedChild(launcher: number): number {
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(launcher)], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
  const cli = children.filter((pid) => cmdlineOf(pid).some((a) => a.endsWith('bin/inkflow.js')));
  expect(cli).toHaveLength(1);
  return cli[0];
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

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
