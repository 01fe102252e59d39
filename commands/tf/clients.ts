/** The AWS clients the Terraform area uses, taken from the injected runtime clients. */
import type { Clients } from '../../src/core/types.ts';
import type { TfClients } from './locks.ts';

export async function tfClients(clients: Clients, onBehalfOf: string): Promise<TfClients> {
  const { s3, dynamodb } = clients.aws(onBehalfOf);
  const region = await dynamodb.config.region();
  return { s3, dynamodb, region };
}

/** Milliseconds of a configuration duration such as "15m" (the config schema checks the form). */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
