CREATE TABLE "payroll_export_lines" (
	"export_id" bigint NOT NULL,
	"seq" integer NOT NULL,
	"line_type" text NOT NULL,
	"employee_id" text NOT NULL,
	"open_id" text,
	"email" text,
	"leave_type" text,
	"date" date NOT NULL,
	"quantity" numeric(14, 6) NOT NULL,
	"unit" text NOT NULL,
	"instance_code" text NOT NULL,
	"kind" text,
	"paid_type" integer,
	"reason" text,
	"previous_quantity" numeric(14, 6),
	"current_quantity" numeric(14, 6),
	"previous_export_id" bigint,
	CONSTRAINT "payroll_export_lines_export_id_seq_pk" PRIMARY KEY("export_id","seq")
);
--> statement-breakpoint
ALTER TABLE "payroll_exports" ALTER COLUMN "lines" DROP NOT NULL;