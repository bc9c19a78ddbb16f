// Access control: loopback by default; any other listen address needs a token, given by clients as
// `Authorization: Bearer <token>` or `?token=<token>` (browsers cannot set headers on a WebSocket).
import { timingSafeEqual, createHash } from 'node:crypto';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuses a non-loopback listen address without a token, with the reason and the fix. */
export function checkListenSafety(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new Error(
      `refusing to listen on ${host} without --token: anyone on the network could run prompts and read your files. ` +
        `Start with --token <secret> (clients send "Authorization: Bearer <secret>" or ?token=<secret>), or listen on 127.0.0.1.`,
    );
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** True when the request carries the token (header or query); constant-time comparison. */
export function hasToken(expected: string, authorization: string | undefined, url: string): boolean {
  let given: string | undefined;
  if (authorization?.startsWith('Bearer ')) given = authorization.slice(7).trim();
  if (given === undefined) {
    const q = url.indexOf('?');
    if (q >= 0) given = new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined;
  }
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}
