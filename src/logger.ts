/** Structured logs; secret-looking fields are censored wherever they appear. */
import { pino, type Logger, type DestinationStream } from 'pino';

const REDACT_PATHS = ['*.token', '*.password', '*.secret', '*.clientSecret', '*.authorization', '*.signingSecret', 'token', 'password', 'secret', 'authorization'];

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'autostack-chatops' } }, destination);
}
