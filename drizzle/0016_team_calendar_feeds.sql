CREATE TABLE "feeds" (
	"id" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"target_id" text,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "team_calendar_events" (
	"instance_code" text NOT NULL,
	"team_key" text NOT NULL,
	"employee_id" text,
	"calendar_id" text NOT NULL,
	"event_id" text NOT NULL,
	"title" text NOT NULL,
	"all_day" boolean NOT NULL,
	"state" text NOT NULL,
	"start_at" timestamp with time zone,
	"end_at" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "employees" ADD COLUMN "department_ids" jsonb;--> statement-breakpoint
CREATE UNIQUE INDEX "feeds_token_hash_uq" ON "feeds" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "team_calendar_events_uq" ON "team_calendar_events" USING btree ("instance_code","team_key");