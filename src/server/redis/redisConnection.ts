// A Redis connection for BullMQ and for the event channels. ioredis is loaded only when --redis is used,
// so a plain `inkflow serve` never needs it installed.
import type { RedisConnectionClient } from 'bullmq';

/** The part of an ioredis client this code uses directly (BullMQ uses the rest). */
export interface RedisClient extends RedisConnectionClient {
  publish(channel: string, message: string): Promise<number>;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): this;
  on(event: string, listener: (...args: unknown[]) => void): this;
  duplicate(): RedisClient;
  quit(): Promise<unknown>;
}

export async function connectRedis(url: string): Promise<RedisClient> {
  // A module name in a variable: the type checker does not need ioredis installed for the in-process mode.
  const moduleName = 'ioredis';
  let mod: { Redis?: new (url: string, opts: object) => RedisClient; default?: new (url: string, opts: object) => RedisClient };
  try {
    mod = await import(moduleName);
  } catch {
    throw new Error('--redis needs the ioredis package next to bullmq (npm install ioredis)');
  }
  const Redis = mod.Redis ?? mod.default;
  if (!Redis) throw new Error('the installed ioredis package has no Redis export');
  // BullMQ workers block on Redis: they need requests that never give up while the server reconnects.
  const client = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  client.on('error', () => {}); // ioredis reconnects by itself; errors surface on the commands that fail
  return client;
}
