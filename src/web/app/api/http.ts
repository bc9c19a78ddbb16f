// Every request the studio makes goes through here, so every failure becomes a sentence a painter can
// act on: the server's own `error` text when it sent one, otherwise what went wrong in plain words.

import { authed } from './serverToken.ts';

export class StudioError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'StudioError';
  }
}

function statusSentence(status: number): string {
  if (status === 404) return 'this server does not offer that (is it `inkflow serve`, and up to date?)';
  if (status === 413) return 'that is too large for the server to accept';
  if (status >= 500) return 'the server ran into a problem; see its console for details';
  return `the server refused the request (HTTP ${status})`;
}

export async function requestJson<T>(method: string, url: string, body?: unknown, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    const isBytes = body instanceof Blob || body instanceof ArrayBuffer || body instanceof Uint8Array;
    res = await fetch(authed(url), {
      method,
      headers: body === undefined ? undefined : isBytes ? { 'content-type': body instanceof Blob ? body.type || 'application/octet-stream' : 'application/octet-stream' } : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : isBytes ? (body as BodyInit) : JSON.stringify(body),
      ...init,
    });
  } catch {
    throw new StudioError('the inkflow server cannot be reached: is `inkflow serve` still running?', 0);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: handled below
  }
  if (!res.ok) {
    const j = json as { error?: unknown; message?: unknown; problems?: unknown } | null;
    // Our routes send { error: sentence }; Fastify's own errors send { error: 'Bad Request', message }.
    // Fastify's own "Route GET:/x not found" means this server lacks the feature: say that, not the route.
    const fastifyTitle = typeof j?.error === 'string' && /^[A-Z][a-z]+( [A-Z][a-z]+)*$/.test(j.error);
    const message = fastifyTitle && typeof j?.message === 'string' && !/^Route \S+ not found$/.test(j.message) ? j.message : typeof j?.error === 'string' && !fastifyTitle ? j.error : statusSentence(res.status);
    throw new StudioError(message, res.status, Array.isArray(j?.problems) ? j.problems.map(String) : []);
  }
  return json as T;
}

export function describeError(e: unknown): string {
  if (e instanceof StudioError) return e.problems.length ? `${e.message}: ${e.problems.join('; ')}` : e.message;
  return e instanceof Error ? e.message : String(e);
}
