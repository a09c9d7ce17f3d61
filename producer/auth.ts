/**
 * Access control. API routes take a bearer token from PRODUCER_API_TOKENS; admin routes take
 * ADMIN_API_TOKEN as a bearer token, or a browser session cookie issued by the login form.
 *
 * Tokens are compared in constant time (SHA-256 digests through timingSafeEqual, every configured
 * token checked), never logged, and never stored: the session cookie carries an expiry and an
 * HMAC keyed by the admin token, so rotating the token ends every session.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

export type Role = 'api' | 'admin';

export interface Principal {
  readonly role: Role | 'anonymous';
  /** A non-secret identity for logs, audit rows and rate-limit keys, such as `api:1a2b3c4d`. */
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
const SESSION_VERSION = 'v1';

export interface AuthOptions {
  readonly apiTokens: readonly string[];
  readonly adminToken: string | undefined;
  readonly authDisabled: boolean;
  readonly sessionTtlS: number;
  readonly now?: () => number;
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
  private readonly adminDigest: Buffer | undefined;
  private readonly sessionKey: Buffer | undefined;
  private readonly now: () => number;

  constructor(private readonly options: AuthOptions) {
    this.apiDigests = options.apiTokens.map(sha256);
    this.adminDigest = options.adminToken === undefined ? undefined : sha256(options.adminToken);
    // A key of its own for sessions, derived from the admin token: the cookie never holds the token.
    this.sessionKey = options.adminToken === undefined ? undefined : createHmac('sha256', options.adminToken).update('workflow-orchestrator admin session key').digest();
    this.now = options.now ?? Date.now;
  }

  get disabled(): boolean {
    return this.options.authDisabled;
  }

  /** Which configured token this is, compared in constant time against every one of them. */
  classify(token: string): Principal | null {
    const digest = sha256(token);
    let api = false;
    for (const d of this.apiDigests) api = timingSafeEqual(d, digest) || api;
    const admin = this.adminDigest !== undefined && timingSafeEqual(this.adminDigest, digest);
    if (!api && !admin) return null;
    const role: Role = admin ? 'admin' : 'api';
    return { role, id: identityOf(role, token), keyHash: digest.toString('hex'), via: 'bearer' };
  }

  /** The principal of a request that must hold `role`; throws 401 (no or unknown credentials) or 403 (the other role's token). */
  authorize(request: FastifyRequest, role: Role): Principal {
    if (this.options.authDisabled) return { role: 'anonymous', id: 'anonymous', keyHash: 'anonymous', via: 'none' };
    const token = bearerToken(request);
    if (token !== undefined) {
      const p = this.classify(token);
      if (!p) throw new ApiError(401, 'UNAUTHORIZED', 'unknown bearer token', undefined, CHALLENGE);
      if (p.role !== role) {
        throw new ApiError(403, 'FORBIDDEN', role === 'admin' ? 'an API token cannot use the admin routes: use ADMIN_API_TOKEN' : 'the admin token cannot use the API routes: use a token from PRODUCER_API_TOKENS');
      }
      return p;
    }
    if (role === 'admin') {
      const session = this.sessionOf(request);
      if (session) return session;
    }
    throw new ApiError(401, 'UNAUTHORIZED', role === 'admin' ? 'admin credentials required: Authorization: Bearer <ADMIN_API_TOKEN>, or log in at /admin/login' : 'missing bearer token: send Authorization: Bearer <token>', undefined, CHALLENGE);
  }

  /** Checks a login form's token; true only for the admin token. */
  isAdminToken(token: string): boolean {
    return this.classify(token)?.role === 'admin';
  }

  private sign(expiresAtS: number): string {
    return createHmac('sha256', this.sessionKey!).update(`${SESSION_VERSION}.${expiresAtS}`).digest('base64url');
  }

  /** A session cookie value that expires after the configured TTL. */
  issueSession(): { value: string; maxAgeS: number } {
    if (!this.sessionKey) throw new Error('no admin token configured: sessions cannot be issued');
    const expiresAtS = Math.floor(this.now() / 1000) + this.options.sessionTtlS;
    return { value: `${SESSION_VERSION}.${expiresAtS}.${this.sign(expiresAtS)}`, maxAgeS: this.options.sessionTtlS };
  }

  private sessionOf(request: FastifyRequest): Principal | null {
    if (!this.sessionKey || !this.options.adminToken) return null;
    const raw = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (!raw) return null;
    const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(raw);
    if (!m) return null;
    const expiresAtS = Number(m[1]);
    if (expiresAtS * 1000 <= this.now()) return null;
    const expected = Buffer.from(this.sign(expiresAtS));
    const given = Buffer.from(m[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    return { role: 'admin', id: identityOf('admin', this.options.adminToken), keyHash: sha256(this.options.adminToken).toString('hex'), via: 'cookie' };
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
    const principal = auth.authorize(request, role);
    if (principal.via === 'cookie' && !['GET', 'HEAD', 'OPTIONS'].includes(request.method)) assertSameOrigin(request);
    request.principal = principal;
  };
}
