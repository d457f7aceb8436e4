import { PG, pgError } from "@/server/db/pg-errors";

import { METRIC_KIND, type Metric } from "./catalogue";
import { BillingError } from "./errors";
import { INT64_MAX } from "./schemas";

/** The typed refusals of a usage write, shared by increment, incrementMany and consume. */

export function belowZero(metric: string, orgId: string): BillingError {
  return new BillingError(
    "CONFLICT",
    METRIC_KIND[metric as Metric] === "gauge" ? "gauge_below_zero" : "count_below_zero",
    `${metric} of organization ${orgId} cannot go below zero`,
    { orgId, metric },
  );
}

/**
 * The overflow rule: a count is a PostgreSQL BIGINT and never passes 2^63-1. The database's
 * own bigint arithmetic detects it in every single-statement write (SQLSTATE 22003, mapped
 * by `countRefusal`, at no cost to the hot path); a batch, which adds its events up here
 * under the rows' locks, checks the same bound per event.
 */
export function countOutOfRange(metric: string, orgId: string): BillingError {
  return new BillingError(
    "CONFLICT",
    "count_out_of_range",
    `${metric} of organization ${orgId} would pass the largest count (${INT64_MAX})`,
    { orgId, metric },
  );
}

/** A count the database refused (CHECK count >= 0, bigint overflow) as its typed refusal; undefined for any other error. */
export function countRefusal(error: unknown, metric: string, orgId: string): BillingError | undefined {
  const code = pgError(error)?.code;
  if (code === PG.checkViolation) return belowZero(metric, orgId);
  if (code === PG.numericValueOutOfRange) return countOutOfRange(metric, orgId);
  return undefined;
}

export function orgNotFound(orgId: string): BillingError {
  return new BillingError("NOT_FOUND", "org_not_found", `Organization ${orgId} does not exist`, { orgId });
}
