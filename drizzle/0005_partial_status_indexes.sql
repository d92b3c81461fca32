DROP INDEX "leaves_status_idx";--> statement-breakpoint
DROP INDEX "outbox_status_idx";--> statement-breakpoint
CREATE INDEX "leaves_status_idx" ON "leaves" USING btree ("status") WHERE status <> 'approved';--> statement-breakpoint
CREATE INDEX "outbox_status_idx" ON "outbox" USING btree ("status") WHERE status not in ('pending', 'done');