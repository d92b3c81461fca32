CREATE TABLE "leave_policies" (
	"kind" text NOT NULL,
	"leave_type" text NOT NULL,
	"calendar" text NOT NULL,
	"decline_mode" text,
	"title" text,
	"visibility" text NOT NULL,
	"payroll_code" text,
	"counts_as_leave" boolean,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "leave_policies_pk" PRIMARY KEY("kind","leave_type")
);
