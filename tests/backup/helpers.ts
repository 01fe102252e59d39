/**
 * Shared set-up for the backup tests: a bucket in moto, a database with known rows, and the
 * settings the backup code takes.
 */
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { awsClients, createDatabase, testServices, uniqueName } from '../harness/env.ts';
import type { TestDatabase } from '../harness/env.ts';
import type { DbSettings } from '../../commands/backup/pg.ts';
import type { BackupStore } from '../../commands/backup/objects.ts';

export async function newStore(options: { versioned?: boolean; prefix?: string } = {}): Promise<BackupStore> {
  const { s3 } = awsClients();
  const bucket = uniqueName('backups');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  if (options.versioned) {
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  return { s3, bucket, prefix: options.prefix ?? 'db/' };
}

export function dbSettings(db: TestDatabase | string): DbSettings {
  const url = typeof db === 'string' ? db : db.url;
  return { url, binDir: testServices().postgres.binDir, connectTimeoutSeconds: 5 };
}

export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<T>(text, values);
    return res.rows;
  } finally {
    await client.end();
  }
}

/** A database with two tables: customers (n rows) and orders (2n rows). */
export async function seededDatabase(n = 50): Promise<TestDatabase> {
  const db = await createDatabase('bk');
  await sql(
    db.url,
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(10,2));
     INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, ${n}) g;
     INSERT INTO orders SELECT g, 1 + (g % ${n}), g * 1.5 FROM generate_series(1, ${2 * n}) g;`,
  );
  return db;
}

/** Adds a table of random-looking text (about `mb` MB before compression). */
export async function addBulk(url: string, mb: number): Promise<void> {
  const rows = Math.ceil((mb * 1024 * 1024) / 200);
  await sql(
    url,
    `CREATE TABLE bulk (id int PRIMARY KEY, payload text);
     INSERT INTO bulk SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 6) i)
       FROM generate_series(1, ${rows}) g;`,
  );
}

export async function keys(s3: S3Client, bucket: string): Promise<string[]> {
  const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (res.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
}

export async function multipartUploads(s3: S3Client, bucket: string): Promise<number> {
  const res = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (res.Uploads ?? []).length;
}

export async function head(s3: S3Client, bucket: string, key: string) {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}
