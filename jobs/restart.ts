/** Queue `restart`: the confirmed `restart <app>` (commands/incident/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { appRestartOperation } from '../commands/incident/operations.ts';

export const restartJob = operationJob('restart', appRestartOperation);
