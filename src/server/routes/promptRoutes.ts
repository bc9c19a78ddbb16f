// POST /prompt accepts a prompt (ComfyUI's envelope and validation bodies), stores it durably, then
// answers; GET /prompt reports the queue size.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../serverContext.ts';

const PROMPT_ID = /^[A-Za-z0-9._-]{1,128}$/;

function envelopeError(type: string, message: string, details = '') {
  return { error: { type, message, details, extra_info: {} }, node_errors: {} };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function promptRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/prompt', async () => ({ exec_info: { queue_remaining: ctx.store.remaining() } }));

  app.post('/prompt', async (req, reply) => {
    const body = req.body;
    if (!isPlainObject(body) || !('prompt' in body)) {
      return reply.code(400).send(envelopeError('no_prompt', 'No prompt provided', 'No prompt provided'));
    }
    // ComfyUI answers a list (or any non-object) as an empty graph: no outputs.
    if (!isPlainObject(body.prompt)) return reply.code(400).send(envelopeError('prompt_no_outputs', 'Prompt has no outputs'));
    const requestedId = body.prompt_id;
    if (requestedId !== undefined && (typeof requestedId !== 'string' || !PROMPT_ID.test(requestedId))) {
      return reply.code(400).send(envelopeError('invalid_prompt', 'prompt_id must be 1–128 letters, digits, ".", "_" or "-"'));
    }
    const id = (requestedId as string | undefined) ?? randomUUID();
    if (ctx.store.get(id)) return reply.code(400).send(envelopeError('invalid_prompt', `prompt_id ${id} was already submitted`));
    const extraData = isPlainObject(body.extra_data) ? { ...body.extra_data } : {};
    const clientId = typeof body.client_id === 'string' ? body.client_id : undefined;
    if (clientId !== undefined) extraData.client_id = clientId;

    const validated = ctx.workflow.validatePrompt(body.prompt, ctx.env);
    const checked = validated instanceof Promise ? await validated : validated;
    if (!checked.ok) return reply.code(400).send(checked.body);

    let number = ctx.nextNumber();
    if (body.front === true) number = -number;
    if (typeof body.number === 'number' && Number.isFinite(body.number)) number = body.number;
    const queued = { id, number, prompt: body.prompt, extraData, outputs: checked.outputs, clientId };
    ctx.store.insert(queued);
    ctx.acceptMeter.accepted(id, req.raw, reply.raw);
    ctx.life.broadcastStatusSoon(id);
    // Start it only after this answer is written: clients (e.g. @saintno/comfyui-sdk's CallWrapper) listen
    // for their prompt id once they have it. The prompt is already durable, so nothing waits on this.
    setImmediate(() => {
      ctx.runner.submitted(queued).catch((e: Error) => req.log.error(e, 'could not hand the prompt to the runner'));
    });
    return { prompt_id: id, number, node_errors: checked.node_errors ?? {} };
  });
}
