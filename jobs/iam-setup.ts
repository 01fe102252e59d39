/** Queue `iam-setup`: the approved `iam setup` (commands/iam/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { setupOperation } from '../commands/iam/operations.ts';

export const iamSetupJob = operationJob('iam-setup', setupOperation);
