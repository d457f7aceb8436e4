import { z } from "zod";

import { CatalogueError, FEATURES, METRICS, type Feature, type Metric } from "./catalogue";

/**
 * What the product app asks about. A metered action changes one metric by a signed amount
 * and names the ledger reason; a `feature.<name>` action asks about a boolean plan feature.
 */
export interface MeteredAction {
  metric: Metric;
  /**
   * Further metrics the action counts in too, each with its own limit and window (api.call:
   * the calls of the billing period AND of the hour): it is allowed only if every one allows
   * it, and a consume records one ledger row per metric, all or none. Staff adjustments and
   * increments name one metric and touch only it.
   */
  also?: readonly Metric[];
  /** +1: the action adds usage and is limited; -1: it frees usage and is always allowed. */
  direction: 1 | -1;
  reason: string;
  /** Whether the caller must say how much (bytes for files); else the amount defaults to 1. */
  amountRequired: boolean;
}

export const METERED_ACTIONS = {
  "member.add": { metric: "members", direction: 1, reason: "member_added", amountRequired: false },
  "member.remove": { metric: "members", direction: -1, reason: "member_removed", amountRequired: false },
  "team.create": { metric: "teams", direction: 1, reason: "team_created", amountRequired: false },
  "team.delete": { metric: "teams", direction: -1, reason: "team_deleted", amountRequired: false },
  "file.upload": { metric: "storage_bytes", direction: 1, reason: "file_upload", amountRequired: true },
  "file.delete": { metric: "storage_bytes", direction: -1, reason: "file_delete", amountRequired: true },
  "api.call": { metric: "api_calls", also: ["api_calls_hourly"], direction: 1, reason: "api_call", amountRequired: false },
  "ai.request": { metric: "ai_requests", direction: 1, reason: "ai_request", amountRequired: false },
  "export.create": { metric: "exports", direction: 1, reason: "export_created", amountRequired: false },
} as const satisfies Record<string, MeteredAction>;

export type MeteredActionName = keyof typeof METERED_ACTIONS;

/** Checked when the module loads, like the plans: an action's extra metrics exist and differ from its own. */
export function validateActions(actions: Record<string, MeteredAction>): void {
  for (const [name, action] of Object.entries(actions)) {
    const seen = new Set<string>([action.metric]);
    for (const metric of action.also ?? []) {
      if (!(METRICS as readonly string[]).includes(metric)) throw new CatalogueError(`Action ${name} also counts unknown metric ${metric}`);
      if (seen.has(metric)) throw new CatalogueError(`Action ${name} counts ${metric} twice`);
      seen.add(metric);
    }
  }
}
validateActions(METERED_ACTIONS);

export type FeatureActionName = `feature.${Feature}`;
export type ActionName = MeteredActionName | FeatureActionName;

export const ACTION_NAMES = [
  ...(Object.keys(METERED_ACTIONS) as MeteredActionName[]),
  ...FEATURES.map((f) => `feature.${f}` as FeatureActionName),
] as [ActionName, ...ActionName[]];

export const actionSchema = z.enum(ACTION_NAMES);

export type ResolvedAction =
  | ({ kind: "metered"; name: MeteredActionName } & MeteredAction & { also: readonly Metric[] })
  | { kind: "feature"; name: FeatureActionName; feature: Feature };

export function resolveAction(name: ActionName): ResolvedAction {
  if (name.startsWith("feature.")) {
    return { kind: "feature", name: name as FeatureActionName, feature: name.slice("feature.".length) as Feature };
  }
  const action: MeteredAction = METERED_ACTIONS[name as MeteredActionName];
  return { kind: "metered", name: name as MeteredActionName, ...action, also: action.also ?? [] };
}
