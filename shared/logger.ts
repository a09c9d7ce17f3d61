/** pino with secrets redacted by path; prompt bodies are never logged at info. */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.openaiApiKey',
  '*.anthropicApiKey',
  'config.providers.openaiApiKey',
  'config.providers.anthropicApiKey',
  // The environment a worker keeps for the catalog's key variables (api_key_env).
  'config.providers.env',
  'providers.env',
  // The producer's bearer tokens, admin session cookie and login form.
  'req.headers.cookie',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'config.apiTokens',
  'config.admins',
  '*.admins',
  'config.adminToken',
  '*.adminToken',
  '*.apiTokens',
  'body.token',
];

/** Query parameters whose values are redacted from logged URLs: anything named like a credential. */
const CREDENTIAL_PARAM = /token|key|secret|passw|pwd|auth|session|cookie|signature|sig$|credential|code/i;

/** The URL with the values of credential-like query parameters replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as it came.
      }
      return eq >= 0 && CREDENTIAL_PARAM.test(name) ? `${rawName}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${query.join('&')}`;
}

/** Fastify's request serializer (logger-pino.js), with credential-like query values redacted. */
function requestSerializer(req: { method?: string; url?: string; host?: string; ip?: string; headers?: Record<string, unknown>; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(options: { level?: string; name: string; destination?: { write(line: string): void } }): Logger {
  return pino({ name: options.name, level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: { req: requestSerializer } }, options.destination);
}
