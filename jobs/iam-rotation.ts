/**
 * Queue `iam-rotation`: the later phases of "Rotate AWS IAM Role": delete the old role after
 * "Terraform plan verified", and the 24-hour reminder (commands/iam/operations.ts).
 */
import type { JobDefinition } from '../src/core/types.ts';
import { rotationStep, rotationStepTitle } from '../commands/iam/operations.ts';
import { IAM_ROTATION_JOB } from '../commands/iam/rotation-flow.ts';
import type { IamRotationData } from '../commands/iam/rotation-flow.ts';

export const iamRotationJob: JobDefinition<IamRotationData> = {
  name: IAM_ROTATION_JOB,
  title: rotationStepTitle,
  onFailureNextStep: 'Rotate AWS IAM Role: the thread says exactly which role exists and what was removed; `/autostack iam check` shows the role as it is now.',
  process: rotationStep,
};
