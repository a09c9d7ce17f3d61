/**
 * Which database errors are worth waiting out: the connection went away or the server is not
 * accepting connections (shared/connection-errors.ts), or the transaction lost a race that a
 * retry wins. Anything else (a constraint, a bug) is not retried.
 */
import { hasConnectionCodeInChain } from '../shared/connection-errors.ts';

const RETRYABLE_TRANSACTION_CODES: ReadonlySet<string> = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

export function isTransientDbError(err: unknown): boolean {
  return hasConnectionCodeInChain(err, RETRYABLE_TRANSACTION_CODES);
}

/** A lost connection or a database that is going away (not a lost race): every write of a batch would fail alone too. */
export function isDbConnectionError(err: unknown): boolean {
  return hasConnectionCodeInChain(err);
}
