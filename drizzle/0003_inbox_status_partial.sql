DROP INDEX "inbox_events_status_idx";--> statement-breakpoint
CREATE INDEX "inbox_events_status_idx" ON "inbox_events" USING btree ("status") WHERE status in ('quarantined', 'ignored');