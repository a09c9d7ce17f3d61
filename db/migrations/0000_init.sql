CREATE TABLE "audit_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"timestamp" timestamp with time zone DEFAULT now() NOT NULL,
	"action" text NOT NULL,
	"severity" text NOT NULL,
	"compliance" text DEFAULT 'SOC2' NOT NULL,
	"user_id" text,
	"agent_id" text,
	"job_id" text,
	"details" jsonb NOT NULL,
	CONSTRAINT "audit_logs_severity_check" CHECK ("audit_logs"."severity" in ('info', 'warning', 'error'))
);
--> statement-breakpoint
CREATE TABLE "generation_attempts" (
	"job_id" text NOT NULL,
	"attempt_number" integer NOT NULL,
	"model" text NOT NULL,
	"provider" text NOT NULL,
	"role" text NOT NULL,
	"outcome" text NOT NULL,
	"validation_errors" jsonb,
	"error_message" text,
	"http_status" integer,
	"retry_after_ms" integer,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"cached_input_tokens" integer DEFAULT 0 NOT NULL,
	"cache_write_tokens" integer DEFAULT 0 NOT NULL,
	"cost_usd" numeric(20, 12) NOT NULL,
	"latency_ms" integer NOT NULL,
	"settings" jsonb NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	CONSTRAINT "generation_attempts_pkey" PRIMARY KEY("job_id","attempt_number"),
	CONSTRAINT "generation_attempts_role_check" CHECK ("generation_attempts"."role" in ('primary', 'fallback')),
	CONSTRAINT "generation_attempts_outcome_check" CHECK ("generation_attempts"."outcome" in ('ok', 'unparseable', 'truncated', 'refusal', 'empty', 'schema', 'semantic', 'rate_limit', 'timeout', 'api_error', 'auth_error'))
);
--> statement-breakpoint
CREATE TABLE "system_settings_config" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"category" text NOT NULL,
	"description" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "workflow_generations" (
	"job_id" text PRIMARY KEY NOT NULL,
	"user_id" text,
	"agent_id" text,
	"request" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"settings" jsonb,
	"workflow" jsonb,
	"steps_generated" integer,
	"generator_used" text,
	"primary_model" text,
	"fallback_reason" text,
	"validation_passed" boolean,
	"validation_errors" jsonb,
	"failure_reason" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"cached_input_tokens" integer DEFAULT 0 NOT NULL,
	"cache_write_tokens" integer DEFAULT 0 NOT NULL,
	"total_tokens" integer DEFAULT 0 NOT NULL,
	"cost_usd" numeric(20, 12) DEFAULT '0' NOT NULL,
	"enqueued_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"generation_time_ms" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workflow_generations_status_check" CHECK ("workflow_generations"."status" in ('queued', 'succeeded', 'invalid', 'failed', 'rejected'))
);
--> statement-breakpoint
CREATE INDEX "audit_logs_action_timestamp_idx" ON "audit_logs" USING btree ("action","timestamp");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_logs_one_final_per_job" ON "audit_logs" USING btree ("job_id") WHERE action in ('WORKFLOW_GENERATED', 'WORKFLOW_GENERATION_FAILED', 'WORKFLOW_GENERATION_REJECTED');--> statement-breakpoint
CREATE UNIQUE INDEX "audit_logs_one_fallback_per_job" ON "audit_logs" USING btree ("job_id") WHERE action = 'WORKFLOW_GENERATION_FALLBACK';--> statement-breakpoint
CREATE INDEX "generation_attempts_model_time_idx" ON "generation_attempts" USING btree ("model","started_at");--> statement-breakpoint
CREATE INDEX "workflow_generations_finished_at_idx" ON "workflow_generations" USING btree ("finished_at");--> statement-breakpoint
CREATE INDEX "workflow_generations_user_idx" ON "workflow_generations" USING btree ("user_id","created_at");