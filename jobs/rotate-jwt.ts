/** Queue `rotate-jwt`: the approved JWT secret rotation, now or delayed to --at (commands/rotate/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { jwtOperation } from '../commands/rotate/operations.ts';

export const rotateJwtJob = operationJob('rotate-jwt', jwtOperation);
