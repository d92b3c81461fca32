CREATE TABLE "corehr_sync" (
	"name" text PRIMARY KEY NOT NULL,
	"watermark" timestamp with time zone,
	"last_queued_at" timestamp with time zone,
	"last_sync_at" timestamp with time zone,
	"last_result" jsonb,
	"tokens" numeric(12, 6) DEFAULT 0 NOT NULL,
	"refilled_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "attendance_days" ADD COLUMN "paid_type" integer;--> statement-breakpoint
ALTER TABLE "leaves" ADD COLUMN "source" text DEFAULT 'approval' NOT NULL;