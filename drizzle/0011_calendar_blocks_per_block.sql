-- A record may have several calendar blocks (a trip: one per schedule segment, for the requester
-- and each peer), so instance_code alone no longer identifies a row. drizzle-kit cannot name a
-- column-level primary key to drop it; the next migration (generated) adds the key
-- (instance_code, block_key) as a unique index.
ALTER TABLE "calendar_blocks" DROP CONSTRAINT "calendar_blocks_pkey";
