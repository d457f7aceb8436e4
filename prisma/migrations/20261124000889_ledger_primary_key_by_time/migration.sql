-- The ledger's primary key in (timestamp, id) order, and its separate (timestamp, id) index
-- dropped (issue #16: the hot path within 10 % of the ledger before the partitions).
--
-- A partitioned table's keys must contain the partition key, so the primary key became
-- (id, timestamp) in 20261124000888: a second B-tree beside (timestamp, id), with the same
-- columns, that every write paid for at a RANDOM leaf (ids are random UUIDs). In (timestamp,
-- id) order the key is as unique and serves the history's keyset pages itself, and every
-- write appends near the right edge of one B-tree instead of touching two. Every lookup of a
-- ledger row by id also knows its timestamp (the key claim stores both: read-by-key.ts).
--
-- Downtime: the new key is built on every partition (DEFAULT included) while the ledger is
-- locked ACCESS EXCLUSIVE — every ledger read and write waits for that build (about 10 s per
-- 10 million rows on a 2-core machine: the bench loader's index builds); `lock_timeout` only bounds the wait to take the lock. On a large ledger
-- run `npm run migrate` in a quiet window before starting the new version (README, deploying).
--
-- Named to sort before 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

SET LOCAL lock_timeout = '5s';

-- DropPrimaryKey
ALTER TABLE "usage_ledger" DROP CONSTRAINT "usage_ledger_pkey";

-- DropIndex
DROP INDEX "usage_ledger_timestamp_id_idx";

-- AddPrimaryKey
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_pkey" PRIMARY KEY ("timestamp", "id");
