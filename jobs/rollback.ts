/** Queue `rollback`: the confirmed or approved rollback (commands/incident/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { rollbackOperation } from '../commands/incident/operations.ts';

export const rollbackJob = operationJob('rollback', rollbackOperation);
