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
  'config.adminToken',
  '*.adminToken',
  '*.apiTokens',
  'body.token',
];

export function createLogger(options: { level?: string; name: string }): Logger {
  return pino({ name: options.name, level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
