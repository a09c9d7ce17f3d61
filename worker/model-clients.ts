/** Builds the provider adapters from configuration. */
import type { ProviderConfig } from '../shared/config.js';
import { NO_USAGE } from '../shared/money.js';
import type { ProviderName } from '../shared/models.js';
import type { ModelClients } from './attempt-runner.js';
import { AnthropicLlmClient } from './llm/anthropic-client.js';
import type { LlmClient } from './llm/llm-client.js';
import type { FetchFn } from './llm/node-http-fetch.js';
import { OpenAiLlmClient } from './llm/openai-client.js';

/** Stands in for a provider with no key: every call is an auth_error that names the variable. */
function missingKeyClient(provider: ProviderName, variable: string): LlmClient {
  return {
    async call() {
      return { kind: 'failure', outcome: 'auth_error', message: `${variable} is not set: no ${provider} model can be called`, httpStatus: null, retryAfterMs: null, usage: NO_USAGE, aborted: false };
    },
  };
}

/** `fetch`: the HTTP client both SDKs use (default: the built-in fetch). */
export function createModelClients(config: ProviderConfig, fetch?: FetchFn): ModelClients {
  return {
    openai: config.openaiApiKey ? new OpenAiLlmClient({ apiKey: config.openaiApiKey, baseURL: config.openaiBaseUrl, fetch }) : missingKeyClient('openai', 'OPENAI_API_KEY'),
    anthropic: config.anthropicApiKey ? new AnthropicLlmClient({ apiKey: config.anthropicApiKey, baseURL: config.anthropicBaseUrl, fetch }) : missingKeyClient('anthropic', 'ANTHROPIC_API_KEY'),
  };
}
