// The 'accept' section of the overhead meter (overheadMeter.ts) for POST /prompt: everything the main thread
// does for the request, not only the route handler — Fastify's routing of the request head (the server's
// 'request' event) and, once the body is in, its parsing, validation, the store, the answer's serialisation
// and the write of the answer. Those two runs of synchronous work are measured here and charged to the
// prompt once it has an id. Without a listener on the meter nothing is attached.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Mark, OverheadMeter } from './overheadMeter.ts';

export interface AcceptMeter {
  /** The body of `req` starts being parsed (called first thing in the body parser). */
  parsing(req: IncomingMessage): void;
  /** The request became prompt `promptId`: its time so far, and until its answer is written, is its accept. */
  accepted(promptId: string, req: IncomingMessage, res: ServerResponse): void;
}

export function createAcceptMeter(server: Server, meter: OverheadMeter): AcceptMeter {
  if (!meter.enabled) return { parsing() {}, accepted() {} };
  const routing = new WeakMap<IncomingMessage, [number, number]>();
  const bodyStart = new WeakMap<IncomingMessage, Mark>();
  let headMark: Mark | undefined;
  // Listeners run in order: ours first, Fastify's (added when it created the server), ours last.
  server.prependListener('request', () => (headMark = meter.start()));
  server.on('request', (req: IncomingMessage) => routing.set(req, meter.since(headMark)));
  return {
    parsing(req) {
      bodyStart.set(req, meter.start()!);
    },
    accepted(promptId, req, res) {
      const head = routing.get(req);
      if (head) meter.add(promptId, 'accept', head[0], head[1]);
      const mark = bodyStart.get(req);
      // 'prefinish' fires inside res.end() once the answer is handed to the socket.
      res.once('prefinish', () => meter.stop(promptId, mark, 'accept'));
    },
  };
}
