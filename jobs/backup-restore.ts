/** Queue `backup-restore`: the approved restore of a database backup (commands/backup/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { restoreOperation } from '../commands/backup/operations.ts';

export const backupRestoreJob = operationJob('backup-restore', restoreOperation);
