/** Structured logs; the values of secret-looking fields (src/core/secret-keys.ts) are censored at any depth. */
import { pino, type Logger, type DestinationStream } from 'pino';
import { redactFields } from './core/redact.ts';

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  return pino({ level, formatters: { log: (fields) => redactFields(fields) }, base: { service: 'autostack-chatops' } }, destination);
}
