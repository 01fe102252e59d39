/**
 * `npm start` from a checkout: console mode when no Slack setting is given, otherwise the
 * runtime's own entry point (src/main.ts, the image's command), which knows nothing of the console.
 */
import { ConfigError, loadConfig, type Config } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { installProcessGuard } from '../src/core/guard.ts';
import { runConsole } from './console/console.ts';

function wantsConsole(config: Config, argv: string[]): boolean {
  const { botToken, appToken, signingSecret } = config.slack;
  return !argv.includes('--worker-only') && !botToken && !appToken && !signingSecret;
}

async function start(): Promise<void> {
  const config = loadConfig();
  if (!wantsConsole(config, process.argv.slice(2))) {
    await import('../src/main.ts');
    return;
  }
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  installProcessGuard(log);
  await runConsole({ config, log, input: process.stdin, output: process.stdout });
}

start().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
  process.stderr.write(`autostack-chatops: ${message}\n`);
  process.exit(1);
});
