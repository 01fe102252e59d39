/** Queue `tf-unlock`: the approved force-unlock of a Terraform state (commands/tf/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { unlockOperation } from '../commands/tf/operations.ts';

export const tfUnlockJob = operationJob('tf-unlock', unlockOperation);
