/** The AWS clients the Terraform area uses, taken from the injected runtime clients. */
import type { Clients } from '../../src/core/types.ts';
import type { TfClients } from './locks.ts';

export async function tfClients(clients: Clients, onBehalfOf: string): Promise<TfClients> {
  const { s3, dynamodb } = clients.aws(onBehalfOf);
  const region = await dynamodb.config.region();
  return { s3, dynamodb, region };
}
