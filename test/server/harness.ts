// Helpers for the server tests: temporary data folders, an in-process server on a real port, WebSocket
// recorders, `inkflow` child processes (serve / worker) and a real redis-server on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import sharp from 'sharp';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/startServer.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const transcriptsDir = resolve(repoRoot, '../shared/comfyui-transcripts');

const cleanups: (() => void)[] = [];
export function cleanupAll(): void {
  for (const c of cleanups.splice(0)) c();
}

export function tempDir(prefix = 'inkflow-server-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const { inkflowWorkflow } = await import('../../src/server/inkflowWorkflow.ts');
  return startServer({ dataDir: opts.dataDir ?? tempDir(), workflow: inkflowWorkflow, port: 0, ...opts });
}

export interface WsMessage {
  type: string;
  data: Record<string, unknown>;
}

export interface WsRecorder {
  readonly messages: WsMessage[];
  readonly binary: Buffer[];
  /** Resolves with the first message (already received or future) that matches. */
  waitFor(pred: (m: WsMessage) => boolean, what: string, timeoutMs?: number): Promise<WsMessage>;
  close(): void;
}

export async function openWs(baseUrl: string, clientId: string, token?: string): Promise<WsRecorder> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(clientId)}${token ? `&token=${token}` : ''}`;
  const ws = new WebSocket(url);
  const messages: WsMessage[] = [];
  const binary: Buffer[] = [];
  const waiters: { pred: (m: WsMessage) => boolean; resolve: (m: WsMessage) => void }[] = [];
  ws.on('message', (raw, isBinary) => {
    if (isBinary) {
      binary.push(Buffer.from(raw as Buffer));
      return;
    }
    const m = JSON.parse(String(raw)) as WsMessage;
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  return {
    messages,
    binary,
    waitFor(pred, what, timeoutMs = 30_000) {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}; got ${messages.map((m) => m.type).join(', ')}`)), timeoutMs);
        waiters.push({ pred, resolve: (m) => (clearTimeout(timer), res(m)) });
      });
    },
    close: () => ws.close(),
  };
}

/** `prompt_id` of a message, for filtering one prompt's events. */
export const forPrompt = (id: string) => (m: WsMessage) => m.data?.prompt_id === id;

export async function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

export async function getJson(baseUrl: string, path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(baseUrl + path);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export async function uploadImage(baseUrl: string, name: string, bytes: Uint8Array, fields: Record<string, string> = {}, path = '/upload/image'): Promise<{ status: number; json: any; text: string }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(baseUrl + path, { method: 'POST', body: form });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** A small RGB PNG of one colour. */
export function solidPng(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

/** ComfyUI-style shape of a JSON value: kinds instead of values, arrays as the set of their element shapes. */
export function shapeOf(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    const seen = new Map<string, unknown>();
    for (const x of v) {
      const s = shapeOf(x);
      seen.set(JSON.stringify(s), s);
    }
    return [...seen.values()];
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = shapeOf((v as Record<string, unknown>)[k]);
    return out;
  }
  return typeof v;
}

/**
 * Every key of `expected` is in `actual` with the same kind of value, recursively (extra keys in `actual`
 * are allowed). Returns the paths that differ.
 */
export function shapeDiff(actual: unknown, expected: unknown, path = '$'): string[] {
  if (expected === null) return actual === null ? [] : [`${path}: expected null, got ${typeof actual}`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array`];
    if (expected.length === 0 || actual.length === 0) return [];
    return shapeDiff(actual[0], expected[0], `${path}[0]`);
  }
  if (typeof expected === 'object') {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return [`${path}: expected an object`];
    return Object.keys(expected as object).flatMap((k) =>
      k in (actual as object) ? shapeDiff((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`) : [`${path}.${k}: missing`],
    );
  }
  return typeof actual === typeof expected ? [] : [`${path}: expected ${typeof expected}, got ${typeof actual}`];
}

/**
 * Differences between a value and a recorded type shape (the transcripts' `item_shape`: "number", "string",
 * "null", "boolean", "string:<value>", arrays shaped by their first element, objects by their keys).
 */
export function typeShapeDiff(actual: unknown, shape: unknown, path = '$'): string[] {
  if (typeof shape === 'string') {
    const kind = shape.split(':')[0];
    const got = actual === null ? 'null' : typeof actual;
    return got === kind ? [] : [`${path}: expected ${kind}, got ${got}`];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array`];
    if (shape.length === 0 || actual.length === 0) return [];
    // A tuple shape (several entries) is compared position by position; a one-entry shape is the element type.
    if (shape.length === 1) return actual.flatMap((a, i) => typeShapeDiff(a, shape[0], `${path}[${i}]`)).slice(0, 5);
    return shape.flatMap((s, i) => typeShapeDiff(actual[i], s, `${path}[${i}]`));
  }
  if (shape && typeof shape === 'object') {
    if (!actual || typeof actual !== 'object') return [`${path}: expected an object`];
    return Object.keys(shape).flatMap((k) =>
      k in (actual as object) ? typeShapeDiff((actual as Record<string, unknown>)[k], (shape as Record<string, unknown>)[k], `${path}.${k}`) : [`${path}.${k}: missing`],
    );
  }
  return [];
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
    srv.once('error', rej);
  });
}

export interface Child {
  readonly proc: ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Waits until the output matches; returns the match. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function watchChild(proc: ChildProcess, label: string): Child {
  let out = '';
  const listeners: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of [...listeners]) l();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return {
    proc,
    output: () => out,
    waitForOutput(re, timeoutMs = 60_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            listeners.splice(listeners.indexOf(check), 1);
            clearTimeout(timer);
            res(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.splice(listeners.indexOf(check), 1);
          rej(new Error(`${label}: timed out waiting for ${re}; output:\n${out}`));
        }, timeoutMs);
        listeners.push(check);
        void exited.then(() => {
          if (!out.match(re)) {
            clearTimeout(timer);
            rej(new Error(`${label} exited (${proc.exitCode ?? proc.signalCode}) before ${re}; output:\n${out}`));
          }
        });
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await exited;
    },
  };
}

/** Starts `inkflow <args>` (the real CLI, through tsx) as a child process. */
export function spawnInkflow(args: string[], label = `inkflow ${args[0]}`): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchChild(proc, label);
}

/** Starts `inkflow <args>` as users do: through bin/inkflow.js (which may run the command in a child of its own). */
export function spawnInkflowBin(args: string[], label = `inkflow ${args[0]}`): Child {
  const proc = spawn(process.execPath, [join(repoRoot, 'bin/inkflow.js'), ...args], { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return watchChild(proc, label);
}

/** `inkflow serve` (API only: the studio's build is tested in test/studio) in a child process on a free port; resolves with its URL once it listens. */
export async function spawnServe(args: string[]): Promise<Child & { url: string }> {
  const child = spawnInkflow(['serve', '--port', '0', '--no-studio', ...args], 'inkflow serve');
  const m = await child.waitForOutput(/listening on (http:\/\/\S+)/);
  return Object.assign(child, { url: m[1] });
}

/** A real redis-server (Debian package) on a free loopback port, without persistence. */
export async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = watchChild(proc, 'redis-server');
  await child.waitForOutput(/Ready to accept connections/, 20_000);
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}
