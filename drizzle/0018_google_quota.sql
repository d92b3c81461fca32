CREATE TABLE "google_quota" (
	"name" text PRIMARY KEY NOT NULL,
	"tokens" double precision NOT NULL,
	"granted" double precision DEFAULT 0 NOT NULL,
	"refilled_at" timestamp with time zone NOT NULL
);
