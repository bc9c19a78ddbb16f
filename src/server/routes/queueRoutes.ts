// /queue, /history, /interrupt and /free: reading and changing the durable queue.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../serverContext.ts';

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function body(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function nonNegativeInt(v: unknown): number | undefined {
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function queueRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/queue', async () => ({ queue_running: ctx.store.running(), queue_pending: ctx.store.pending() }));

  app.post('/queue', async (req, reply) => {
    const b = body(req.body);
    const removed: string[] = [];
    if (b.clear === true) removed.push(...ctx.store.clearPending());
    if (b.delete !== undefined) removed.push(...ctx.store.deletePending(stringList(b.delete)));
    if (removed.length) {
      await ctx.runner.removed(removed);
      ctx.life.broadcastStatusSoon();
    }
    return reply.code(200).send();
  });

  app.get('/history', async (req) => {
    const q = req.query as Record<string, unknown>;
    return ctx.store.history(nonNegativeInt(q.max_items), nonNegativeInt(q.offset) ?? 0);
  });

  app.get('/history/:id', async (req) => {
    const { id } = req.params as { id: string };
    const entry = ctx.store.historyOf(id);
    return entry ? { [id]: entry } : {};
  });

  app.post('/history', async (req, reply) => {
    const b = body(req.body);
    if (b.clear === true) ctx.store.clearHistory();
    if (b.delete !== undefined) ctx.store.deleteHistory(stringList(b.delete));
    return reply.code(200).send();
  });

  app.post('/interrupt', async (req, reply) => {
    const b = body(req.body);
    ctx.runner.interrupt(typeof b.prompt_id === 'string' ? b.prompt_id : undefined);
    return reply.code(200).send();
  });

  app.post('/free', async (req, reply) => {
    const b = body(req.body);
    ctx.runner.free({ unloadModels: b.unload_models === true, freeMemory: b.free_memory === true });
    return reply.code(200).send();
  });
}
