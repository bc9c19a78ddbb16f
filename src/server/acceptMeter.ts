// The overhead meter's (overheadMeter.ts) view of POST /prompt: everything the main thread does for the
// request, not only the route handler. 'route': Fastify's routing of the request head (from the server's
// 'request' event to the preParsing hook, where it starts reading the body); 'accept': once the body is
// in, its parsing, validation, the store, the answer's serialisation and its write. Both are measured here
// and charged to the prompt once it has an id. Without a listener on the meter nothing is attached.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Mark, OverheadMeter } from './overheadMeter.ts';

export interface AcceptMeter {
  /** The body of `req` starts being parsed (called first thing in the body parser). */
  parsing(req: IncomingMessage): void;
  /** The request became prompt `promptId`: its time so far, and until its answer is written, is its accept. */
  accepted(promptId: string, req: IncomingMessage, res: ServerResponse): void;
}

export function createAcceptMeter(app: FastifyInstance, meter: OverheadMeter): AcceptMeter {
  if (!meter.enabled) return { parsing() {}, accepted() {} };
  const headStart = new WeakMap<IncomingMessage, Mark>();
  const routing = new WeakMap<IncomingMessage, [number, number]>();
  const bodyStart = new WeakMap<IncomingMessage, Mark>();
  // Ahead of Fastify's own listener (added when it created the server).
  app.server.prependListener('request', (req: IncomingMessage) => headStart.set(req, meter.start()!));
  app.addHook('preParsing', (req, _reply, payload, done) => {
    routing.set(req.raw, meter.since(headStart.get(req.raw)));
    done(null, payload);
  });
  return {
    parsing(req) {
      bodyStart.set(req, meter.start()!);
    },
    accepted(promptId, req, res) {
      const head = routing.get(req);
      if (head) meter.add(promptId, 'route', head[0], head[1]);
      const mark = bodyStart.get(req);
      // 'prefinish' fires inside res.end() once the answer is handed to the socket.
      res.once('prefinish', () => meter.stop(promptId, mark, 'accept'));
    },
  };
}
