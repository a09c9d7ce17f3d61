CREATE TABLE "model_catalog" (
	"id" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"api_model" text NOT NULL,
	"label" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"base_url" text,
	"api_key_env" text,
	"structured_output" text NOT NULL,
	"temperature" double precision,
	"token_limit_param" text NOT NULL,
	"reasoning_effort" text,
	"price_input_per_mtok" numeric(20, 6) NOT NULL,
	"price_output_per_mtok" numeric(20, 6) NOT NULL,
	"price_cached_input_per_mtok" numeric(20, 6) NOT NULL,
	"price_cache_write_per_mtok" numeric(20, 6) NOT NULL,
	"price_source_url" text,
	"price_read_at" date,
	"context_window_tokens" integer NOT NULL,
	"max_output_tokens" integer NOT NULL,
	"timeout_ms" integer NOT NULL,
	"deprecated_at" timestamp with time zone,
	"shutdown_at" timestamp with time zone,
	"replacement_id" text,
	"lifecycle_source_url" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text,
	CONSTRAINT "model_catalog_provider_check" CHECK ("model_catalog"."provider" in ('openai', 'anthropic', 'openai-compatible')),
	CONSTRAINT "model_catalog_structured_output_check" CHECK ("model_catalog"."structured_output" in ('json_schema', 'tool', 'json_object', 'prompt')),
	CONSTRAINT "model_catalog_token_limit_param_check" CHECK ("model_catalog"."token_limit_param" in ('max_tokens', 'max_completion_tokens')),
	CONSTRAINT "model_catalog_prices_check" CHECK ("model_catalog"."price_input_per_mtok" > 0 and "model_catalog"."price_output_per_mtok" > 0 and "model_catalog"."price_cached_input_per_mtok" >= 0 and "model_catalog"."price_cache_write_per_mtok" >= 0)
);
--> statement-breakpoint
ALTER TABLE "generation_attempts" DROP CONSTRAINT "generation_attempts_outcome_check";--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD COLUMN "price_input_per_mtok" numeric(20, 6);--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD COLUMN "price_output_per_mtok" numeric(20, 6);--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD COLUMN "price_cached_input_per_mtok" numeric(20, 6);--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD COLUMN "price_cache_write_per_mtok" numeric(20, 6);--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD CONSTRAINT "generation_attempts_outcome_check" CHECK ("generation_attempts"."outcome" in ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic', 'unstorable', 'rate_limit', 'timeout', 'api_error', 'auth_error', 'model_unavailable', 'quota_exhausted', 'bad_request'));