-- Every row written before approvals had kinds is a leave, except a revert remembered from
-- approval_instance whose approval never came: that one stays of unknown kind (null), as a
-- revert that arrives first is stored today.
UPDATE "leaves" SET "kind" = 'leave' WHERE "kind" IS NULL AND "detail_source" IS NOT NULL;
