// `inkflow serve`: Fastify for HTTP (every route also under /api/, as ComfyUI), `ws` for /ws, the durable
// SQLite queue, and a job runner — in this process, or BullMQ workers when a Redis URL is given.
import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { openDataFolder, type DataFolder } from './dataFolder.ts';
import { openPromptStore } from './store.ts';
import { startWalCheckpointer, type WalCheckpointer } from './walCheckpointer.ts';
import { createSocketHub } from './socketHub.ts';
import { createPromptLifecycle } from './promptLifecycle.ts';
import { createOverheadMeter, type OverheadListener } from './overheadMeter.ts';
import { createAcceptMeter } from './acceptMeter.ts';
import { createLocalRunner } from './localRunner.ts';
import { createThreadExecutor } from './threadExecutor.ts';
import type { JobRunner } from './jobRunner.ts';
import { checkListenSafety, hasToken } from './auth.ts';
import type { ServerContext, ServerLimits } from './serverContext.ts';
import type { WorkflowApi } from './workflowApi.ts';
import { promptRoutes } from './routes/promptRoutes.ts';
import { queueRoutes } from './routes/queueRoutes.ts';
import { viewRoute } from './routes/viewRoute.ts';
import { uploadRoutes } from './routes/uploadRoutes.ts';
import { infoRoutes } from './routes/infoRoutes.ts';
import { workflowFromPngRoute } from './routes/workflowFromPngRoute.ts';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { registerStudio } from './projects/index.ts';

export interface ServerOptions {
  dataDir: string;
  workflow: WorkflowApi;
  /** Address to bind; 127.0.0.1 unless given. Anything else requires `token`. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  modelsDir?: string;
  token?: string;
  /** With a Redis URL, prompts go to BullMQ for `inkflow worker` processes instead of running here. */
  redisUrl?: string;
  limits?: Partial<ServerLimits>;
  device?: 'cpu' | 'cuda';
  /** CLIP tokenizer tables for single-file checkpoints (else INKFLOW_TOKENIZER or the Hugging Face cache). */
  tokenizerDir?: string;
  /** Checkpoint names compiled int8 ('*' = all) and KSampler step caching: lossy, opt-in speed modes. */
  int8Models?: readonly string[];
  cacheSteps?: number;
  /** List the repository's bundled models (models/default/*) as "default (bundled)" entries (default true). */
  bundledModels?: boolean;
  argv?: string[];
  /** Logs requests (off by default: the queue must stay fast). */
  logger?: boolean;
  /**
   * Serve the comic studio: its project API under /studio/ and the web app at / (built on first start).
   * `inkflow serve` turns it on; API-only servers (tests, benches, workers' peers) leave it off.
   */
  studio?: boolean;
  /** Per completed prompt, the server's own main-thread time for it (bench/server.ts). */
  onPromptOverhead?: OverheadListener;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly data: DataFolder;
  /** What start-up did with prompts a previous run left unfinished. */
  readonly recovered: { requeued: string[]; failed: string[] };
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: ServerLimits = { maxUploadBytes: 100 * 1024 * 1024, maxImagePixels: 64 * 1024 * 1024 };


function registerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  for (const prefix of ['', '/api']) {
    app.register(
      async (scoped) => {
        promptRoutes(scoped, ctx);
        queueRoutes(scoped, ctx);
        viewRoute(scoped, ctx);
        uploadRoutes(scoped, ctx);
        infoRoutes(scoped, ctx);
        workflowFromPngRoute(scoped, ctx);
      },
      { prefix },
    );
  }
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  checkListenSafety(host, opts.token);
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const data = openDataFolder(opts.dataDir, {
    models: opts.modelsDir,
    device: opts.device,
    tokenizerDir: opts.tokenizerDir,
    int8Models: opts.int8Models,
    cacheSteps: opts.cacheSteps,
    bundledModels: opts.bundledModels,
    limits: { maxImagePixels: limits.maxImagePixels, maxInputBytes: limits.maxUploadBytes },
  });
  const env = data.env;
  // The store creates the file (WAL mode) first; the checkpointer's own connection opens it after.
  let checkpointer: WalCheckpointer | undefined;
  const store = openPromptStore(data.databasePath, { backgroundCheckpoints: true, onCommit: () => checkpointer?.committed() });
  checkpointer = startWalCheckpointer(data.databasePath);
  // In-process, a prompt found running was cut off by our own crash; with Redis a worker may still be on
  // it (the runner asks BullMQ what became of each job).
  const recovered = opts.redisUrl ? { requeued: store.resetRunning(), failed: [] } : store.recoverInterrupted();
  const hub = createSocketHub();
  const meter = createOverheadMeter(opts.onPromptOverhead);
  const life = createPromptLifecycle(store, hub, meter);
  let runner: JobRunner;
  if (opts.redisUrl) {
    const { createRedisRunner } = await import('./redis/redisRunner.ts');
    runner = await createRedisRunner(life, opts.redisUrl);
  } else {
    runner = createLocalRunner(life, createThreadExecutor(env));
  }

  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: limits.maxUploadBytes });
  let number = Math.max(store.maxNumber() + 1, 0);
  const ctx: ServerContext = {
    data,
    env,
    workflow: opts.workflow,
    store,
    life,
    runner,
    limits,
    argv: opts.argv ?? process.argv.slice(1),
    nextNumber: () => number++,
    acceptMeter: createAcceptMeter(app, meter),
  };
  // ComfyUI reads every body as JSON whatever its content type, and clients rely on it: some POST
  // /interrupt with a JSON type and no body, @saintno/comfyui-sdk replaces its headers and sends JSON as
  // text/plain. So JSON, text and untyped bodies all parse as JSON here (an empty one as {}).
  const parseJsonBody = (req: { raw: IncomingMessage }, text: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    ctx.acceptMeter.parsing(req.raw);
    const s = String(text);
    if (s.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(s));
    } catch {
      done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  };
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, parseJsonBody);
  app.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);
  await app.register(multipart, { limits: { fileSize: limits.maxUploadBytes } });
  if (opts.token) {
    const token = opts.token;
    app.addHook('onRequest', async (req, reply) => {
      if (!hasToken(token, req.headers.authorization, req.url)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong token' });
      }
    });
  }
  registerRoutes(app, ctx);
  const studioDb = opts.studio ? new Database(join(data.root, 'studio.sqlite')) : undefined;
  if (studioDb) await registerStudio(app, { db: studioDb, dataDir: data.root, log: (line) => console.log(`inkflow: ${line}`) });

  // No permessage-deflate (ws's default, stated because socketHub writes ready-made uncompressed frames).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  app.server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws' && url.pathname !== '/api/ws') return socket.destroy();
    if (opts.token && !hasToken(opts.token, req.headers.authorization, req.url ?? '')) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = hub.attach(ws, url.searchParams.get('clientId') ?? undefined);
      hub.send('status', { status: { exec_info: { queue_remaining: store.remaining() } }, sid }, sid);
      const running = life.runningFor(sid);
      if (running?.node) hub.send('executing', { node: running.node, display_node: running.node, prompt_id: running.promptId }, sid);
      ws.on('message', () => {}); // clients announce feature flags; nothing to answer
      ws.on('error', () => ws.terminate());
    });
  });

  await app.listen({ host, port: opts.port ?? 8188 });
  await runner.start();
  const port = (app.server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    data,
    recovered,
    close() {
      closing ??= (async () => {
        hub.closeAll();
        wss.close();
        await runner.close();
        await app.close();
        store.close();
        await checkpointer?.close();
        studioDb?.close();
        meter.close();
      })();
      return closing;
    },
  };
}
