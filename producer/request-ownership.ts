/**
 * Requests belong to the principal that made them. An id minted over HTTP ends with a tag, an
 * HMAC of the rest of the id keyed by the principal's token digest: whether a principal owns an
 * id is a computation, with nothing stored that could expire or be lost with Redis, and no
 * principal can mint or guess another's tag. Ids minted elsewhere (the library, a raw BullMQ
 * client) carry no tag and belong to no API principal; the admin console sees every request.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Principal } from './auth.ts';

const TAG_CHARS = 22; // 132 bits of base64url

function tagOf(principal: Principal, base: string): string {
  return createHmac('sha256', principal.keyHash).update(`request-owner\n${base}`).digest('base64url').slice(0, TAG_CHARS);
}

/**
 * The id of a new request of this principal: from its idempotency key, scoped by
 * (principal, userId, key), or random.
 */
export function mintRequestId(principal: Principal, request: { readonly userId: string; readonly idempotencyKey?: string | undefined }): string {
  const base =
    request.idempotencyKey === undefined
      ? randomUUID()
      : `idem-${createHash('sha256').update(`${principal.keyHash}\n${request.userId}\n${request.idempotencyKey}`).digest('hex').slice(0, 40)}`;
  return `${base}.${tagOf(principal, base)}`;
}

/** True when the principal made the request with this id (always for an admin). */
export function ownsRequest(principal: Principal, id: string): boolean {
  if (principal.role === 'admin') return true;
  const dot = id.lastIndexOf('.');
  if (dot <= 0 || id.length - dot - 1 !== TAG_CHARS) return false;
  const expected = Buffer.from(tagOf(principal, id.slice(0, dot)));
  const given = Buffer.from(id.slice(dot + 1));
  return expected.length === given.length && timingSafeEqual(expected, given);
}
