/**
 * The runtime's entry point (the image's command). HTTP mode with SLACK_BOT_TOKEN +
 * SLACK_SIGNING_SECRET, Socket Mode with SLACK_APP_TOKEN; `--worker-only` runs just the workers.
 * Console mode is a development tool: `npm start` (dev/start.ts) runs it when no Slack token is set.
 */
import { loadConfig, ConfigError, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { createBot, type ReceiverChoice } from './bot.ts';
import { installProcessGuard } from './core/guard.ts';

type Mode = 'http' | 'socket' | 'worker';

function chooseMode(config: Config, argv: string[]): Mode {
  if (argv.includes('--worker-only')) {
    // Workers report into Slack threads, so they need the bot token (but no receiver).
    if (!config.slack.botToken) throw new ConfigError('--worker-only needs SLACK_BOT_TOKEN: workers post job progress to Slack');
    return 'worker';
  }
  if (config.slack.botToken && config.slack.signingSecret) return 'http';
  if (config.slack.botToken && config.slack.appToken) return 'socket';
  if (config.slack.botToken || config.slack.appToken || config.slack.signingSecret) {
    throw new ConfigError('incomplete Slack settings: HTTP mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; console mode needs none of them');
  }
  throw new ConfigError('no Slack token: HTTP mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN. Console mode (no token) is a development tool: run `npm start` in a checkout of the repository');
}

async function main(): Promise<void> {
  const config = loadConfig();
  const mode = chooseMode(config, process.argv.slice(2));
  const log = createLogger(process.env.LOG_LEVEL ?? 'info');
  // An error escaping one job fails that job instead of the whole process (src/core/guard.ts).
  installProcessGuard(log);

  if (!config.secrets.key) throw new ConfigError('secrets.key (or AUTOSTACK_SECRET_KEY) is required: 32 random bytes, base64 (`openssl rand -base64 32`)');
  if (!config.redis.url) throw new ConfigError('redis.url (or REDIS_URL) is required');
  const receiver: ReceiverChoice =
    mode === 'http' ? { kind: 'http', signingSecret: config.slack.signingSecret! } : mode === 'socket' ? { kind: 'socket', appToken: config.slack.appToken! } : { kind: 'none' };
  const bot = await createBot({ config, receiver, redisUrl: config.redis.url, secretKey: config.secrets.key, log, runWorkers: true });
  await bot.start(config.slack.port);
  log.info({ mode, port: config.slack.port, verbs: bot.registry.verbs.length }, 'AutoStack ChatOps started');
  shutdownOn(['SIGTERM', 'SIGINT'], async () => bot.stop(), log);
}

/** Graceful stop: receivers close, workers finish or abort their jobs, connections close. */
function shutdownOn(signals: NodeJS.Signals[], stop: () => Promise<void>, log: { info: (o: object, m: string) => void }): void {
  let stopping = false;
  for (const signal of signals) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      void stop().finally(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
  process.stderr.write(`autostack-chatops: ${message}\n`);
  process.exit(1);
});
