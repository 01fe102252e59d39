/** Queue `db-migrate`: the confirmed or approved dbMigrate (commands/incident/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { dbMigrateOperation } from '../commands/incident/operations.ts';

export const dbMigrateJob = operationJob('db-migrate', dbMigrateOperation);
