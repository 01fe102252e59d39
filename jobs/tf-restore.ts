/** Queue `tf-restore`: the approved restore of a Terraform state version (commands/tf/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { restoreOperation } from '../commands/tf/operations.ts';

export const tfRestoreJob = operationJob('tf-restore', restoreOperation);
