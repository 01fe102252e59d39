/** The bot's own HTTP endpoints beside Slack's: health, metrics, and the modules' routes. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { HttpRoute, RuntimeDeps } from './core/types.ts';
import type { Metrics } from './metrics.ts';

export interface BoltCustomRoute {
  path: string;
  method: string | string[];
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface CoreRouteDeps {
  redis: Redis;
  metrics: Metrics;
  workersRunning(): boolean;
  workersExpected: boolean;
}

export function coreRoutes(deps: CoreRouteDeps): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/health',
      async handle(_req, res) {
        const redis = await deps.redis.ping().then(
          () => true,
          () => false,
        );
        const workers = !deps.workersExpected || deps.workersRunning();
        const healthy = redis && workers;
        res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: healthy ? 'ok' : 'unhealthy', redis: redis ? 'ok' : 'unreachable', workers: deps.workersExpected ? (deps.workersRunning() ? 'running' : 'stopped') : 'not in this process' }));
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      async handle(_req, res) {
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(await deps.metrics.registry.metrics());
      },
    },
  ];
}

/** Adapts routes to Bolt's customRoutes; a failing handler answers 500 without details. */
export function toBoltRoutes(routes: HttpRoute[], deps: RuntimeDeps): BoltCustomRoute[] {
  return routes.map((route) => ({
    path: route.path,
    method: route.method,
    handler: (req, res) => {
      route.handle(req, res, deps).catch((error: Error) => {
        deps.log.error({ err: error.message, path: route.path }, 'route failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      });
    },
  }));
}
