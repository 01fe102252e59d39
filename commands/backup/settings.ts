/**
 * What the backup verbs and jobs need from configuration and the injected clients.
 */
import type { Config } from '../../src/config.ts';
import type { Clients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { BackupStore } from './objects.ts';
import { connInfo } from './pg.ts';
import type { DbSettings } from './pg.ts';
import type { RetentionPolicy } from './retention.ts';

export function dbSettings(config: Config): DbSettings {
  if (!config.database.url) {
    throw new UserFacingError('No database is configured.', 'Set database.url in the configuration or DATABASE_URL in the environment.');
  }
  return { url: config.database.url, binDir: config.database.binDir };
}

/** The configured database's name (the default restore target), if a URL is configured. */
export function configuredDatabase(config: Config): string | undefined {
  if (!config.database.url) return undefined;
  try {
    return connInfo({ url: config.database.url }).database;
  } catch {
    return undefined;
  }
}

export function backupStore(config: Config, clients: Clients, onBehalfOf: string): BackupStore {
  return { s3: clients.aws(onBehalfOf).s3, bucket: config.backup.bucket, prefix: config.backup.prefix };
}

export function retentionPolicy(config: Config): RetentionPolicy {
  return { retentionDays: config.backup.retentionDays, keepAtLeast: config.backup.keepAtLeast };
}

export function s3Location(config: Config): string {
  return `s3://${config.backup.bucket}/${config.backup.prefix}`;
}
