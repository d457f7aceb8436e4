import { describe, expect, it } from "vitest";

import { formatDuration } from "@/app/_lib/format";
import { chartUnitOf, formatAmount, formatSignedAmount, formatSignedQuantity, isCatalogued, metricLabel } from "@/app/_lib/metric-display";
import { METRIC_DEFINITIONS, METRICS } from "@/server/billing/metrics";

describe("metric display follows the catalogue", () => {
  it.each(METRICS)("%s: its catalogue label, amounts in its unit", (metric) => {
    const definition = METRIC_DEFINITIONS[metric];
    expect(isCatalogued(metric)).toBe(true);
    expect(metricLabel(metric)).toBe(definition.label);
    if (definition.unit === "byte") {
      expect(chartUnitOf(metric)).toBe("bytes");
      expect(formatAmount(metric, 1536n)).toBe("1.5 KiB");
      expect(formatSignedAmount(metric, -1536n)).toBe("-1.5 KiB");
      expect(formatSignedQuantity(metric, 5n * 2n ** 31n)).toBe("+10 GiB");
    } else {
      expect(chartUnitOf(metric)).toBe("count");
      expect(formatAmount(metric, 12_345n)).toBe("12,345");
      expect(formatSignedAmount(metric, 2n)).toBe("+2");
      expect(formatSignedQuantity(metric, -1n)).toBe(`-1 ${definition.unit}`);
      expect(formatSignedQuantity(metric, 4n)).toBe(`+4 ${definition.unit}s`);
    }
  });

  it("shows a metric outside the catalogue by its raw name, as a plain count", () => {
    expect(isCatalogued("projects_v2")).toBe(false);
    expect(isCatalogued("toString")).toBe(false);
    expect(metricLabel("projects_v2")).toBe("projects_v2");
    expect(chartUnitOf("projects_v2")).toBe("count");
    expect(formatAmount("projects_v2", 1536n)).toBe("1,536");
    expect(formatSignedQuantity("projects_v2", 3n)).toBe("+3");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "less than a minute"],
    [59, "less than a minute"],
    [60, "1 min"],
    [42 * 60 + 59, "42 min"],
    [3 * 3600, "3 h"],
    [3 * 3600 + 12 * 60 + 30, "3 h 12 min"],
    [86_400, "1 day"],
    [86_400 + 5 * 3600 + 59 * 60, "1 day 5 h"],
    [2 * 86_400, "2 days"],
    [12 * 86_400 + 23 * 3600, "12 days"],
    [-5, "less than a minute"],
  ])("%i s → %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
