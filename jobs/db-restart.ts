/** Queue `db-restart`: the confirmed or approved dbRestart (commands/incident/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { dbRestartOperation } from '../commands/incident/operations.ts';

export const dbRestartJob = operationJob('db-restart', dbRestartOperation);
