CREATE TABLE "attendance_days" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"instance_code" text NOT NULL,
	"employee_id" text NOT NULL,
	"date" date NOT NULL,
	"quantity" numeric(14, 6) NOT NULL,
	"unit" text NOT NULL,
	"revision" integer NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "calendar_blocks" (
	"instance_code" text PRIMARY KEY NOT NULL,
	"calendar_id" text NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"state" text NOT NULL,
	"start_at" timestamp with time zone,
	"end_at" timestamp with time zone,
	"fallback_reason" text,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "employees" (
	"employee_id" text PRIMARY KEY NOT NULL,
	"open_id" text,
	"name" text,
	"email" text,
	"email_override" text,
	"timezone" text,
	"fetched_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inbox_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_key" text NOT NULL,
	"event_type" text NOT NULL,
	"source" text NOT NULL,
	"instance_code" text,
	"status" text NOT NULL,
	"effect" text,
	"reason" text,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leaves" (
	"instance_code" text PRIMARY KEY NOT NULL,
	"approval_code" text,
	"tenant_key" text,
	"employee_id" text,
	"open_id" text,
	"leave_type" text,
	"leave_type_key" text,
	"unit" text,
	"interval_seconds" integer,
	"start_local" text,
	"end_local" text,
	"segments" jsonb,
	"segments_source" text,
	"timezone" text,
	"reason" text,
	"status" text NOT NULL,
	"detail_source" text,
	"has_v1" boolean DEFAULT false NOT NULL,
	"has_v2" boolean DEFAULT false NOT NULL,
	"approved_at" timestamp with time zone,
	"reverted_at" timestamp with time zone,
	"revision" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"kind" text NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"run_after" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_until" timestamp with time zone,
	"leased_by" text,
	"last_error" text,
	"result" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"done_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "payroll_exports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"from_date" date NOT NULL,
	"to_date" date NOT NULL,
	"format" text NOT NULL,
	"line_count" integer NOT NULL,
	"lines" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "attendance_days_rev_uq" ON "attendance_days" USING btree ("instance_code","revision","date");--> statement-breakpoint
CREATE INDEX "attendance_days_active_date_idx" ON "attendance_days" USING btree ("date") WHERE status = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "inbox_events_key_uq" ON "inbox_events" USING btree ("event_key","event_type");--> statement-breakpoint
CREATE INDEX "inbox_events_instance_idx" ON "inbox_events" USING btree ("instance_code");--> statement-breakpoint
CREATE INDEX "inbox_events_status_idx" ON "inbox_events" USING btree ("status");--> statement-breakpoint
CREATE INDEX "leaves_employee_idx" ON "leaves" USING btree ("employee_id");--> statement-breakpoint
CREATE INDEX "leaves_status_idx" ON "leaves" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_pending_uq" ON "outbox" USING btree ("key","kind") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "outbox_due_idx" ON "outbox" USING btree ("run_after","id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "outbox_key_idx" ON "outbox" USING btree ("key","id");--> statement-breakpoint
CREATE INDEX "outbox_status_idx" ON "outbox" USING btree ("status");--> statement-breakpoint
CREATE INDEX "payroll_exports_period_idx" ON "payroll_exports" USING btree ("from_date","to_date");