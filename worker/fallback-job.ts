/** The fallback-tagged job a primary job hands over: internal to the worker, still checked. */
import { ajv, toFieldErrors } from '../shared/ajv.ts';
import { InvalidRequestError } from '../shared/errors.ts';
import { generationRequestSchema, type GenerationRequest } from '../shared/job-contract.ts';
import { ATTEMPT_OUTCOMES, type FailureReason } from '../shared/outcomes.ts';

export interface FallbackJobData {
  readonly originJobId: string;
  readonly request: GenerationRequest;
  /** Why the primary was not used. */
  readonly reason: FailureReason;
  readonly primaryModel: string;
  readonly fallbackModel: string;
  /** When the original request was enqueued (ms since epoch). */
  readonly enqueuedAt: number;
  readonly handedOverAt: number;
}

const validate = ajv.compile<FallbackJobData>({
  type: 'object',
  required: ['originJobId', 'request', 'reason', 'primaryModel', 'fallbackModel', 'enqueuedAt', 'handedOverAt'],
  properties: {
    originJobId: { type: 'string', minLength: 1 },
    // By $id: the contract schema is already compiled into the shared Ajv instance.
    request: { $ref: generationRequestSchema.$id },
    reason: { enum: ATTEMPT_OUTCOMES.filter((o) => o !== 'ok') },
    primaryModel: { type: 'string' },
    fallbackModel: { type: 'string' },
    enqueuedAt: { type: 'number' },
    handedOverAt: { type: 'number' },
  },
});

export function parseFallbackJobData(data: unknown): FallbackJobData {
  if (validate(data)) return data;
  throw new InvalidRequestError(toFieldErrors(validate.errors));
}
