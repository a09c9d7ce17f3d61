/**
 * The catalog the project ships (shared/model-catalog.default.json): today's OpenAI and Anthropic
 * chat models with their published prices and announced shutdown dates, retired ones included so
 * that history stays readable. `npm run db:init` copies the rows that are missing into the table;
 * workers use it only until their first read of the table.
 */
import { readFileSync } from 'node:fs';
import { parseModelDocument, replacementErrors } from './model-catalog-input.ts';
import { ModelCatalog, type ModelSpec } from './models.ts';
import { ConfigurationError } from './errors.ts';

const FILE = new URL('./model-catalog.default.json', import.meta.url);

/** The documents of the default file, as the admin API takes them. */
export function defaultModelDocuments(): unknown[] {
  const parsed: unknown = JSON.parse(readFileSync(FILE, 'utf8'));
  if (!Array.isArray(parsed)) throw new ConfigurationError('INVALID_CONFIG', `${FILE.pathname} must hold a JSON array of models`);
  return parsed;
}

function load(): ModelCatalog {
  const models = defaultModelDocuments().map((d) => parseModelDocument(d));
  const bad = replacementErrors(models);
  if (bad.length > 0) throw new ConfigurationError('INVALID_CONFIG', `default catalog: ${bad.map((b) => `${b.modelId} ${b.error.message}`).join('; ')}`);
  return new ModelCatalog(models);
}

export const DEFAULT_CATALOG: ModelCatalog = load();

/** The shipped models (for tests, the benchmark and the dashboards; running code reads the table). */
export const MODEL_CATALOG = DEFAULT_CATALOG.models;

export function findModel(id: string): ModelSpec | undefined {
  return DEFAULT_CATALOG.find(id);
}
