CREATE TABLE "approval_tasks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"instance_code" text NOT NULL,
	"approval_code" text,
	"task_id" text NOT NULL,
	"user_id" text,
	"open_id" text,
	"status" text NOT NULL,
	"operate_time" timestamp with time zone,
	"extra" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "attendance_days_rev_uq";--> statement-breakpoint
/* 
    Unfortunately in current drizzle-kit version we can't automatically get name for primary key.
    We are working on making it available!

    Meanwhile you can:
        1. Check pk name in your database, by running
            SELECT constraint_name FROM information_schema.table_constraints
            WHERE table_schema = 'public'
                AND table_name = 'calendar_blocks'
                AND constraint_type = 'PRIMARY KEY';
        2. Uncomment code below and paste pk name manually
        
    Hope to release this update as soon as possible
*/

-- ALTER TABLE "calendar_blocks" DROP CONSTRAINT "<constraint_name>";--> statement-breakpoint
ALTER TABLE "calendar_blocks" ADD COLUMN "block_key" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "calendar_blocks" ADD COLUMN "employee_id" text;--> statement-breakpoint
ALTER TABLE "leaves" ADD COLUMN "kind" text;--> statement-breakpoint
ALTER TABLE "leaves" ADD COLUMN "peers" jsonb;--> statement-breakpoint
ALTER TABLE "leaves" ADD COLUMN "segment_seconds" jsonb;--> statement-breakpoint
ALTER TABLE "leaves" ADD COLUMN "extra" jsonb;--> statement-breakpoint
ALTER TABLE "leaves" ADD COLUMN "held" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "payroll_exports" ADD COLUMN "kinds" jsonb;--> statement-breakpoint
CREATE UNIQUE INDEX "approval_tasks_step_uq" ON "approval_tasks" USING btree ("instance_code","task_id","status","operate_time");--> statement-breakpoint
CREATE UNIQUE INDEX "attendance_days_rev_emp_uq" ON "attendance_days" USING btree ("instance_code","revision","employee_id","date");--> statement-breakpoint
CREATE UNIQUE INDEX "calendar_blocks_block_uq" ON "calendar_blocks" USING btree ("instance_code","block_key");