/**
 * Access control. API routes take a bearer token from PRODUCER_API_TOKENS; admin routes take an
 * admin's token (ADMIN_API_TOKENS, each with a person's name, or the single ADMIN_API_TOKEN) as a
 * bearer token, or a browser session cookie issued by the login form. An admin's principal is
 * their name: audit rows and "last updated by" say who, not which token.
 *
 * Tokens are compared in constant time (SHA-256 digests through timingSafeEqual, every configured
 * token checked), never logged, and never stored. Admin sessions live in Redis (admin-sessions.ts):
 * the cookie is a random id, logout revokes it, and a session opened with a token that is no
 * longer configured (the admin token was rotated) is refused.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminCredential } from '../shared/producer-config.ts';
import type { AdminSessionStore } from './admin-sessions.ts';
import { unavailable } from './dependencies.ts';
import { ApiError } from './errors.ts';

export type Role = 'api' | 'admin';

export interface Principal {
  readonly role: Role | 'anonymous';
  /**
   * A non-secret identity for logs and audit rows: an admin's name (`alice`), or `api:1a2b3c4d`
   * for an API token.
   */
  readonly id: string;
  /** SHA-256 of the token (hex): the rate-limit key. */
  readonly keyHash: string;
  readonly via: 'bearer' | 'cookie' | 'none';
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const SESSION_COOKIE = 'wo_admin_session';

export interface AuthOptions {
  readonly apiTokens: readonly string[];
  readonly admins: readonly AdminCredential[];
  readonly authDisabled: boolean;
  readonly sessionTtlS: number;
  /** Where admin sessions live; without it, the login form cannot open one. */
  readonly sessions?: AdminSessionStore;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** `role:<first 8 hex of sha256(token)>`: enough to tell tokens apart, useless to an attacker. */
export function identityOf(role: Role, token: string): string {
  return `${role}:${sha256(token).toString('hex').slice(0, 8)}`;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  if (!m) throw new ApiError(401, 'UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"', undefined, CHALLENGE);
  return m[1];
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!out.has(name)) {
      try {
        out.set(name, decodeURIComponent(value));
      } catch {
        out.set(name, value);
      }
    }
  }
  return out;
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="workflow-orchestrator"' };

export class Authenticator {
  private readonly apiDigests: readonly Buffer[];
  private readonly adminDigests: readonly { readonly name: string; readonly digest: Buffer }[];

  private readonly options: AuthOptions;

  constructor(options: AuthOptions) {
    this.options = options;
    this.apiDigests = options.apiTokens.map(sha256);
    this.adminDigests = options.admins.map((a) => ({ name: a.name, digest: sha256(a.token) }));
  }

  /** The admin whose token has this digest, compared in constant time against every admin's. */
  private adminByDigest(digest: Buffer): string | undefined {
    let name: string | undefined;
    for (const a of this.adminDigests) {
      if (a.digest.length === digest.length && timingSafeEqual(a.digest, digest)) name ??= a.name;
    }
    return name;
  }

  get disabled(): boolean {
    return this.options.authDisabled;
  }

  /** Which configured token this is, compared in constant time against every one of them. */
  classify(token: string): Principal | null {
    const digest = sha256(token);
    let api = false;
    for (const d of this.apiDigests) api = timingSafeEqual(d, digest) || api;
    const admin = this.adminByDigest(digest);
    if (admin !== undefined) return { role: 'admin', id: admin, keyHash: digest.toString('hex'), via: 'bearer' };
    if (!api) return null;
    return { role: 'api', id: identityOf('api', token), keyHash: digest.toString('hex'), via: 'bearer' };
  }

  /** The principal of a request that must hold `role`; throws 401 (no or unknown credentials) or 403 (the other role's token). */
  async authorize(request: FastifyRequest, role: Role): Promise<Principal> {
    if (this.options.authDisabled) return { role: 'anonymous', id: 'anonymous', keyHash: 'anonymous', via: 'none' };
    const token = bearerToken(request);
    if (token !== undefined) {
      const p = this.classify(token);
      if (!p) throw new ApiError(401, 'UNAUTHORIZED', 'unknown bearer token', undefined, CHALLENGE);
      if (p.role !== role) {
        throw new ApiError(403, 'FORBIDDEN', role === 'admin' ? 'an API token cannot use the admin routes: use an admin token (ADMIN_API_TOKENS or ADMIN_API_TOKEN)' : 'the admin token cannot use the API routes: use a token from PRODUCER_API_TOKENS');
      }
      return p;
    }
    if (role === 'admin') {
      const session = await this.sessionOf(request);
      if (session) return session;
    }
    throw new ApiError(401, 'UNAUTHORIZED', role === 'admin' ? 'admin credentials required: Authorization: Bearer <an admin token>, or log in at /admin/login' : 'missing bearer token: send Authorization: Bearer <token>', undefined, CHALLENGE);
  }

  /** The admin a login form's token belongs to, or null: only admin tokens open sessions. */
  adminOf(token: string): Principal | null {
    const p = this.classify(token);
    return p?.role === 'admin' ? p : null;
  }

  /** Opens a session for this admin (a principal from `adminOf`); the cookie value is its random id. */
  async issueSession(admin: Principal): Promise<{ value: string; maxAgeS: number }> {
    const { sessions, sessionTtlS } = this.options;
    if (!sessions || admin.role !== 'admin') throw new Error('no session store configured, or not an admin: sessions cannot be issued');
    // The session holds the digest of the admin's token: the admin's name follows from it, and a
    // rotated or removed token ends the sessions it opened.
    const id = await this.withSessions(() => sessions.create(admin.keyHash, sessionTtlS));
    return { value: id, maxAgeS: sessionTtlS };
  }

  /** Ends the session the request's cookie names, if any. */
  async revokeSession(request: FastifyRequest): Promise<void> {
    const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (id && this.options.sessions) await this.withSessions(() => this.options.sessions!.revoke(id));
  }

  private async sessionOf(request: FastifyRequest): Promise<Principal | null> {
    const { sessions } = this.options;
    if (!sessions || this.adminDigests.length === 0) return null;
    const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (!id) return null;
    const digest = await this.withSessions(() => sessions.lookup(id));
    if (digest === null) return null;
    const name = this.adminByDigest(Buffer.from(digest, 'hex'));
    // Opened with a token that is no longer an admin's: the token was rotated or removed.
    if (name === undefined) {
      await this.withSessions(() => sessions.revoke(id));
      return null;
    }
    return { role: 'admin', id: name, keyHash: digest, via: 'cookie' };
  }

  /** A session store that cannot answer is a 503 naming Redis, not a 500 or a silent logout. */
  private async withSessions<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw unavailable('redis', 'the admin session store is not reachable', err);
    }
  }
}

/** Set-Cookie for a session (or its removal); Secure whenever the request came over https. */
export function sessionCookie(request: FastifyRequest, value: string, maxAgeS: number): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeS}`];
  if (request.protocol === 'https') parts.push('Secure');
  return parts.join('; ');
}

/**
 * A cookie-authenticated request that changes state must come from our own pages: SameSite=Strict
 * already keeps other sites' requests cookie-less; an Origin from elsewhere is refused as well.
 */
export function assertSameOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ApiError(403, 'FORBIDDEN', 'malformed Origin header');
  }
  if (host !== request.host) throw new ApiError(403, 'FORBIDDEN', `cross-origin request from ${origin} refused`);
}

export function requireRole(auth: Authenticator, role: Role) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const principal = await auth.authorize(request, role);
    if (principal.via === 'cookie' && !['GET', 'HEAD', 'OPTIONS'].includes(request.method)) assertSameOrigin(request);
    request.principal = principal;
  };
}
