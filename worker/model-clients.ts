/**
 * Builds the provider adapters from the catalog rows: each model gets its own base URL and key
 * variable. Adapters are shared by every model with the same provider, URL and key, and built on
 * first use, so a model added to the catalog at run time needs no restart.
 */
import type { Env, ProviderConfig } from '../shared/config.ts';
import { NO_USAGE } from '../shared/money.ts';
import type { ModelSpec } from '../shared/models.ts';
import type { ModelClients } from './attempt-runner.ts';
import { AnthropicLlmClient } from './llm/anthropic-client.ts';
import type { LlmClient } from './llm/llm-client.ts';
import { OpenAiLlmClient } from './llm/openai-client.ts';

/** The key variable a model reads: its own, or its provider's. */
export function keyVariableOf(model: ModelSpec): string {
  return model.apiKeyEnv ?? (model.provider === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY');
}

/** Stands in for a model whose key variable is unset: every call is an auth_error naming it. */
function missingKeyClient(variable: string): LlmClient {
  return {
    async call(call) {
      return { kind: 'failure', outcome: 'auth_error', message: `${variable} is not set: model ${call.model.id} cannot be called`, httpStatus: null, retryAfterMs: null, usage: NO_USAGE, aborted: false };
    },
  };
}

/** The environment variables a worker was started with: read once, like the rest of the configuration. */
export function createModelClients(config: ProviderConfig, env: Env): ModelClients {
  const clients = new Map<string, LlmClient>();
  return {
    clientFor(model) {
      const variable = keyVariableOf(model);
      const apiKey = env[variable] || undefined;
      const baseURL = model.baseUrl ?? (model.provider === 'anthropic' ? config.anthropicBaseUrl : config.openaiBaseUrl);
      const key = `${model.provider === 'anthropic' ? 'anthropic' : 'chat'}\u0000${baseURL ?? ''}\u0000${variable}`;
      let client = clients.get(key);
      if (!client) {
        if (!apiKey) client = missingKeyClient(variable);
        else if (model.provider === 'anthropic') client = new AnthropicLlmClient({ apiKey, baseURL });
        else client = new OpenAiLlmClient({ apiKey, baseURL });
        clients.set(key, client);
      }
      return client;
    },
  };
}

/** The configured models whose key variable is unset: the worker warns about each at start-up. */
export function modelsWithoutKey(models: readonly ModelSpec[], env: Env): { model: string; variable: string }[] {
  return models.filter((m) => !env[keyVariableOf(m)]).map((m) => ({ model: m.id, variable: keyVariableOf(m) }));
}
