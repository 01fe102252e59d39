/**
 * Helpers for test files that need the real services started by
 * tests/harness/global-setup.ts (one Redis, one PostgreSQL, one moto_server
 * shared by the whole run).
 *
 * The services are shared between test files running in parallel, so every
 * test must isolate its data by name: use `uniqueName()` for buckets, tables,
 * roles, Redis key prefixes, BullMQ queue names and databases. Never flush or
 * reset a whole service.
 *
 * Cleanup: importing this module registers one `afterAll` hook in the
 * importing test file. It closes every Redis connection and AWS client handed
 * out by this module and drops every database made by `createDatabase()` that
 * is still there. Import this module at the top level of the test file (the
 * usual place) so the hook belongs to that file.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import type { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { createS3Client } from '../../src/s3-client.ts';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import type { ServiceCoordinates } from './services.ts';

export type { ServiceCoordinates, PostgresCoordinates } from './services.ts';

/** Cleanups run by the afterAll hook below, newest first. */
const cleanups: Array<() => Promise<void>> = [];

export const TEST_AWS_REGION = 'us-east-1';
export const TEST_AWS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/** Coordinates of the services started for this run. */
export function testServices(): ServiceCoordinates {
  const services = inject('services');
  if (!services) {
    throw new Error('test services are not available: run the tests through vitest with vitest.config.ts (globalSetup)');
  }
  return services;
}

/**
 * A short unique name: lowercase letters and digits only, starting with a
 * letter, at most 32 characters. Valid as an S3 bucket, DynamoDB table, IAM
 * name, Redis key prefix, BullMQ queue and unquoted PostgreSQL identifier.
 * `prefix` is lowercased and stripped of anything else (default "t").
 */
export function uniqueName(prefix = 't'): string {
  let clean = prefix.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 20);
  if (!/^[a-z]/.test(clean)) clean = `t${clean}`.slice(0, 20);
  const random = BigInt(`0x${randomBytes(8).toString('hex')}`).toString(36).padStart(12, '0').slice(0, 12);
  return `${clean}${random}`;
}

export interface AwsTestClients {
  iam: IAMClient;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sts: STSClient;
}

/** Client settings for any other AWS SDK v3 client that should talk to moto. */
export function awsClientConfig(): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return {
    endpoint: testServices().awsEndpoint,
    region: TEST_AWS_REGION,
    credentials: { ...TEST_AWS_CREDENTIALS },
  };
}

/** New AWS SDK v3 clients pointed at moto (destroyed after the test file). */
export function awsClients(): AwsTestClients {
  const config = awsClientConfig();
  const clients: AwsTestClients = {
    iam: new IAMClient(config),
    // The bot's own S3 client (binary bodies sent unsigned), so the tests exercise it against moto.
    s3: createS3Client({ ...config, forcePathStyle: true }),
    dynamodb: new DynamoDBClient(config),
    sts: new STSClient(config),
  };
  for (const client of Object.values(clients)) {
    cleanups.push(async () => client.destroy());
  }
  return clients;
}

/**
 * A new ioredis client on the test Redis with `maxRetriesPerRequest: null`
 * (as BullMQ requires). `options` are merged over those defaults. Closed
 * automatically after the test file; calling `quit()` earlier is fine.
 */
export function redisConnection(options: RedisOptions = {}): Redis {
  const client = new Redis(testServices().redisUrl, { maxRetriesPerRequest: null, ...options });
  cleanups.push(async () => {
    if (client.status === 'end') return;
    try {
      await client.quit();
    } catch {
      client.disconnect();
    }
  });
  return client;
}

export interface TestDatabase {
  /** Database name (a `uniqueName()`). */
  name: string;
  /** URL with superuser, password, host, port and this database. */
  url: string;
  /** Drops the database (terminating open connections). Safe to call twice. */
  drop(): Promise<void>;
}

/** Runs `fn` with a client connected as the test PostgreSQL's superuser, then disconnects it. */
export async function withSuperuser<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testServices().postgres.url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates a fresh, empty database on the test PostgreSQL. It is dropped after
 * the test file unless `drop()` was called before.
 */
export async function createDatabase(prefix = 'db'): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await withSuperuser((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(testServices().postgres.url);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await withSuperuser((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  };
  cleanups.push(drop);
  return { name, url: url.toString(), drop };
}

// Only inside a vitest worker: hooks cannot be registered anywhere else.
if (process.env.VITEST) {
  afterAll(async () => {
    const pending = cleanups.splice(0).reverse();
    const results = await Promise.allSettled(pending.map((fn) => fn()));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    if (failed.length > 0) throw new Error(`test resource cleanup failed:\n${failed.join('\n')}`);
  });
}
