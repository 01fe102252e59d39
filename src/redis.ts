/**
 * The bot's Redis connections, from `redis.url`: `redis://host:port` (or `rediss://`) is one
 * server; `redis-cluster://host:port,host:port,...` is a Redis Cluster, reached through ioredis'
 * Cluster client from those seed nodes (user and password, when given, are the same for all).
 * Every key the bot writes in one command or transaction shares a hash tag, so a cluster serves it.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

const CLUSTER_SCHEME = 'redis-cluster:';

export function isClusterUrl(url: string): boolean {
  return url.startsWith(`${CLUSTER_SCHEME}//`);
}

/** The seed nodes of a `redis-cluster://` URL, and its credentials. */
export function clusterNodes(url: string): { nodes: Array<{ host: string; port: number }>; username?: string; password?: string } {
  const rest = url.slice(CLUSTER_SCHEME.length + 2);
  const at = rest.lastIndexOf('@');
  const auth = at === -1 ? '' : rest.slice(0, at);
  const hosts = (at === -1 ? rest : rest.slice(at + 1)).replace(/\/.*$/, '');
  const nodes = hosts.split(',').map((hostPort) => {
    const match = /^(.+):(\d+)$/.exec(hostPort.trim());
    if (!match) throw new Error(`redis.url: "${hostPort}" is not host:port (a cluster URL is redis-cluster://host:port,host:port,...)`);
    return { host: match[1]!, port: Number(match[2]) };
  });
  const [username, password] = auth.includes(':') ? auth.split(':', 2).map(decodeURIComponent) : [undefined, auth ? decodeURIComponent(auth) : undefined];
  return { nodes, username: username || undefined, password };
}

/**
 * A connection to `url`. A cluster's client is typed as a Redis: it has the same commands, and the
 * code using it keeps each command's keys in one slot.
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  if (!isClusterUrl(url)) return new Redis(url, options);
  const { nodes, username, password } = clusterNodes(url);
  const cluster = new Cluster(nodes, { redisOptions: { ...options, username, password }, enableReadyCheck: options.enableReadyCheck ?? true });
  return cluster as unknown as Redis;
}
