/**
 * Assembles the bot: configuration, clients, the verb table, the dispatcher, the job system
 * and a Bolt App on the chosen receiver. main.ts, the console and the tests all start it here.
 */
import { createServer, type Server } from 'node:http';
import { match } from 'path-to-regexp';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type Receiver } from '@slack/bolt';
import { connectRedis } from './redis.ts';
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.ts';
import type { CommandModule, JobDefinition, RunningTask, RuntimeDeps } from './core/types.ts';
import { buildRegistry, type Registry } from './core/registry.ts';
import { Dispatcher } from './core/dispatcher.ts';
import { approvalExpiryJob } from './core/approvals.ts';
import { approvalEscalationJob } from './core/paging.ts';
import { BreakGlassReviews, breakGlassReminderJob } from './core/break-glass.ts';
import { JobSystem, type JobSystemDeps } from './core/jobs.ts';
import { AuditSpool, RedisAuditLog, auditStreamKey } from './core/audit.ts';
import { PendingStore } from './core/pending.ts';
import { RoleResolver } from './core/rbac.ts';
import { createSecretBox } from './core/secrets.ts';
import { createClients, createSlackClient, systemClock, type ClientOverrides } from './clients.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { coreRoutes, toBoltRoutes } from './http-routes.ts';
import { registerListeners } from './slack/listeners.ts';
import { SlackRequestGuard } from './slack/request-guard.ts';
import { slackSurface } from './slack/surface.ts';
import { startBullBoard } from './bull-board.ts';
import { createCoreModule } from '../commands/core/index.ts';
import { areaModules } from '../commands/index.ts';
import { allJobs } from '../jobs/index.ts';
import { slackNotifier } from './slack/notifier.ts';

/** Where Slack sends events, commands and interactivity (HTTP mode). */
const SLACK_ENDPOINTS = ['/slack/events'];

export type ReceiverChoice =
  | { kind: 'http'; signingSecret: string }
  | { kind: 'socket'; appToken: string }
  | { kind: 'custom'; receiver: Receiver }
  /** Workers only: no Slack receiver, but health and metrics are served. */
  | { kind: 'none' };

export interface BotOptions {
  config: Config;
  receiver: ReceiverChoice;
  redisUrl: string;
  /** Secret key (32 bytes base64) sealing values that pass through Redis. */
  secretKey: string;
  log: Logger;
  /** Run job workers in this process (default true). */
  runWorkers?: boolean;
  /** Area modules; defaults to every runbook area. */
  modules?: CommandModule[];
  /** Job processors; defaults to every job in jobs/. */
  jobs?: JobDefinition<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  overrides?: ClientOverrides;
  jobTiming?: JobSystemDeps['timing'];
}

export interface Bot {
  app: App;
  dispatcher: Dispatcher;
  jobs: JobSystem;
  audit: RedisAuditLog;
  metrics: Metrics;
  registry: Registry;
  deps: RuntimeDeps;
  /** Starts receiving (HTTP/Socket Mode port, or the custom receiver) and the workers. */
  start(port: number): Promise<void>;
  stop(): Promise<void>;
}

export async function createBot(options: BotOptions): Promise<Bot> {
  const { config, log } = options;
  if (config.http.bullBoard.enabled && !config.http.bullBoard.password) {
    throw new ConfigError('http.bullBoard.password (or AUTOSTACK_BULL_BOARD_PASSWORD) is required when http.bullBoard.enabled is true');
  }
  const runWorkers = options.runWorkers ?? true;
  const redis = connectRedis(options.redisUrl, { maxRetriesPerRequest: 3 });
  // Without a listener, every failed reconnection would be an unhandled 'error' event.
  redis.on('error', (error: Error) => log.warn({ err: error.message }, 'redis connection error'));
  const slack = createSlackClient(config.slack.botToken, config.slack.apiUrl);
  const notify = slackNotifier(slack, log);
  const clients = createClients(config, redis, notify, options.overrides);
  const secrets = createSecretBox(options.secretKey);
  const metrics = createMetrics();
  const prefix = config.redis.prefix;
  const audit = new RedisAuditLog(
    redis,
    auditStreamKey(prefix),
    clients.clock,
    log,
    config.channels.audit ? { notify, channel: config.channels.audit } : undefined,
    new AuditSpool(config.audit.spoolDir, `${prefix}-audit`),
  );

  const jobMap = new Map();
  const jobs = new JobSystem({
    redisUrl: options.redisUrl,
    prefix,
    jobs: jobMap,
    config,
    clients,
    secrets,
    audit,
    log,
    metrics,
    timing: options.jobTiming,
    onPlanChanged: async (approved, params, plan, meta) => {
      await dispatcher.planChanged(approved.verb, params, plan, meta.requestedBy, meta.channel, slackSurface({ client: slack, userId: meta.requestedBy, channelId: meta.channel }));
    },
  });
  const core = createCoreModule({
    verbs: () => registry.verbs,
    recentJobs: (limit) => jobs.recent(limit),
    cancelJob: (id) => jobs.cancel(id),
    jobRequester: async (id) => ((await jobs.queue.getJob(id))?.data as { meta?: { requestedBy?: string } } | undefined)?.meta?.requestedBy,
    latestAudit: (count) => audit.latest(count),
    breakGlassReviews: (count) => reviews.latest(count),
    permalink: (channel, ts) => jobs.permalink(channel, ts),
  });
  const registry = buildRegistry([core, ...(options.modules ?? areaModules)], [
    ...(options.jobs ?? allJobs),
    approvalExpiryJob(async (id) => {
      const request = await pending.get(id);
      if (request && request.status === 'pending') await dispatcher.expire(request);
    }),
    approvalEscalationJob((id) => dispatcher.escalate(id)),
    breakGlassReminderJob((id, n) => dispatcher.remindReview(id, n)),
  ]);
  for (const [name, definition] of registry.jobs) jobMap.set(name, definition);

  const pending = new PendingStore(redis, prefix);
  const reviews = new BreakGlassReviews(redis, prefix);
  const roles = new RoleResolver(config.access, createSlackClient(config.slack.botToken, config.slack.apiUrl, true), clients.clock, log);
  const dispatcher = new Dispatcher({ config, registry, roles, pending, reviews, jobs, audit, metrics, clients, secrets, log });
  const deps: RuntimeDeps = { config, clients, jobs, audit, secrets, log };
  const routes = [...coreRoutes({ redis, metrics, workersRunning: () => jobs.workersRunning(), workersExpected: runWorkers }), ...registry.routes];
  const customRoutes = toBoltRoutes(routes, deps);

  let receiver: Receiver;
  let routeServer: Server | undefined;
  let bullBoard: Server | undefined;
  let tasks: RunningTask[] = [];
  if (options.receiver.kind === 'http') {
    const guard = new SlackRequestGuard({ signingSecret: options.receiver.signingSecret, endpoints: SLACK_ENDPOINTS, redis, prefix, clock: systemClock, log });
    const http = new HTTPReceiver({
      signingSecret: options.receiver.signingSecret,
      endpoints: SLACK_ENDPOINTS,
      customRoutes,
      processBeforeResponse: false,
      logLevel: LogLevel.ERROR,
      customPropertiesExtractor: guard.customProperties,
    });
    guard.install(http);
    receiver = http;
  } else if (options.receiver.kind === 'socket') {
    // Socket Mode has no Slack endpoint; its own server (config.slack.port) serves health, metrics and routes.
    receiver = new SocketModeReceiver({
      appToken: options.receiver.appToken,
      customRoutes,
      logLevel: LogLevel.ERROR,
      installerOptions: { port: config.slack.port, clientOptions: { slackApiUrl: config.slack.apiUrl } },
    });
  } else {
    receiver = options.receiver.kind === 'custom' ? options.receiver.receiver : idleReceiver();
    // No Slack HTTP endpoint here, but health, metrics and module routes still need a server.
    // Paths match as Bolt's receivers match them (path-to-regexp), parameters included.
    const matchers = customRoutes.map((route) => ({ route, matches: match(route.path, { decode: decodeURIComponent }) }));
    routeServer = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const found = matchers.find(({ route, matches }) => [route.method].flat().includes(req.method ?? '') && matches(path));
      if (found) found.route.handler(req, res);
      else res.writeHead(404).end();
    });
  }

  const app = new App({
    token: config.slack.botToken,
    receiver,
    logLevel: LogLevel.ERROR,
    // Interactive calls fail fast on 429; our own code decides whether a short wait is worth it.
    clientOptions: { slackApiUrl: config.slack.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 1, minTimeout: 200, maxTimeout: 1000 }, timeout: 5000 },
  });
  registerListeners(app, dispatcher, log);

  return {
    app,
    dispatcher,
    jobs,
    audit,
    metrics,
    registry,
    deps,
    async start(port: number) {
      const auth = await slack.auth.test().catch(() => undefined);
      if (auth?.url) jobs.setWorkspaceUrl(auth.url);
      if (runWorkers) {
        await jobs.runWorkers();
        tasks = registry.tasks.flatMap((task) => task.start(deps) ?? []);
      }
      await jobs.registerSchedules(registry.schedules);
      if (config.http.bullBoard.enabled) bullBoard = await startBullBoard(jobs.queue, config.http.bullBoard.password!, config.http.bullBoard.port);
      if (routeServer) {
        if (options.receiver.kind === 'custom') await app.start();
        await new Promise<void>((resolve) => routeServer!.listen(port, '127.0.0.1', resolve));
      } else {
        await app.start(port);
      }
    },
    async stop() {
      await app.stop().catch(() => undefined);
      await Promise.all(tasks.splice(0).map((task) => task.stop()));
      if (bullBoard) await new Promise<void>((resolve) => bullBoard!.close(() => resolve()));
      if (routeServer) await new Promise<void>((resolve) => routeServer!.close(() => resolve()));
      await dispatcher.settled();
      await jobs.close();
      await redis.quit().catch(() => undefined);
    },
  };
}

/** A receiver that never delivers anything (worker-only processes). */
function idleReceiver(): Receiver {
  return { init: () => undefined, start: async () => undefined, stop: async () => undefined };
}
