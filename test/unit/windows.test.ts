import { describe, expect, it } from "vitest";

import { billingPeriodAt, calendarWindowAt, startOfLocalDay, type CalendarWindow } from "@/server/billing/windows";

const iso = (d: Date) => d.toISOString();
const window = (spec: CalendarWindow, at: string) => {
  const w = calendarWindowAt(spec, new Date(at));
  return [iso(w.start), iso(w.end)];
};

describe("calendar windows", () => {
  it.each<[string, CalendarWindow, string, string, string]>([
    // hours
    ["a UTC hour", { unit: "hour" }, "2026-03-08T06:59:59.999Z", "2026-03-08T06:00:00.000Z", "2026-03-08T07:00:00.000Z"],
    [
      "an hour starts at its first millisecond",
      { unit: "hour" },
      "2026-03-08T07:00:00.000Z",
      "2026-03-08T07:00:00.000Z",
      "2026-03-08T08:00:00.000Z",
    ],
    [
      "a half-hour zone's hour (Asia/Kolkata, +05:30)",
      { unit: "hour", timeZone: "Asia/Kolkata" },
      "2026-05-01T10:10:00Z",
      "2026-05-01T09:30:00.000Z",
      "2026-05-01T10:30:00.000Z",
    ],
    [
      "New York's spring-forward hour is one hour long",
      { unit: "hour", timeZone: "America/New_York" },
      "2026-03-08T07:30:00Z",
      "2026-03-08T07:00:00.000Z",
      "2026-03-08T08:00:00.000Z",
    ],
    [
      "New York's repeated 01:00 hour, first time",
      { unit: "hour", timeZone: "America/New_York" },
      "2026-11-01T05:30:00Z",
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T06:00:00.000Z",
    ],
    [
      "New York's repeated 01:00 hour, second time",
      { unit: "hour", timeZone: "America/New_York" },
      "2026-11-01T06:30:00Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-01T07:00:00.000Z",
    ],
    // days
    ["a UTC day", { unit: "day" }, "2026-12-31T23:59:59.999Z", "2026-12-31T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
    [
      "New York's 23-hour day (DST starts)",
      { unit: "day", timeZone: "America/New_York" },
      "2026-03-08T12:00:00Z",
      "2026-03-08T05:00:00.000Z",
      "2026-03-09T04:00:00.000Z",
    ],
    [
      "New York's 25-hour day (DST ends)",
      { unit: "day", timeZone: "America/New_York" },
      "2026-11-01T12:00:00Z",
      "2026-11-01T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ],
    [
      "a local day that is still yesterday in UTC (Tokyo)",
      { unit: "day", timeZone: "Asia/Tokyo" },
      "2026-06-30T16:00:00Z",
      "2026-06-30T15:00:00.000Z",
      "2026-07-01T15:00:00.000Z",
    ],
    [
      "Santiago's day whose midnight DST skips starts at 01:00",
      { unit: "day", timeZone: "America/Santiago" },
      "2026-09-06T12:00:00Z",
      "2026-09-06T04:00:00.000Z",
      "2026-09-07T03:00:00.000Z",
    ],
    [
      "London's 25-hour day (the clocks go back)",
      { unit: "day", timeZone: "Europe/London" },
      "2026-10-25T23:30:00Z",
      "2026-10-24T23:00:00.000Z",
      "2026-10-26T00:00:00.000Z",
    ],
    // weeks (ISO: Monday)
    ["a week from Monday (UTC)", { unit: "week" }, "2026-12-02T10:00:00Z", "2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z"],
    [
      "a Sunday belongs to the week before",
      { unit: "week" },
      "2026-12-06T23:00:00Z",
      "2026-11-30T00:00:00.000Z",
      "2026-12-07T00:00:00.000Z",
    ],
    ["a week across the year end", { unit: "week" }, "2027-01-01T00:00:00Z", "2026-12-28T00:00:00.000Z", "2027-01-04T00:00:00.000Z"],
    [
      "a week across New York's DST end",
      { unit: "week", timeZone: "America/New_York" },
      "2026-11-01T12:00:00Z",
      "2026-10-26T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ],
    // months
    ["a calendar month", { unit: "month" }, "2026-02-28T23:59:59Z", "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"],
    ["a leap February", { unit: "month" }, "2028-02-29T12:00:00Z", "2028-02-01T00:00:00.000Z", "2028-03-01T00:00:00.000Z"],
    [
      "anchor 31 in January",
      { unit: "month", anchorDay: 31 },
      "2026-02-15T00:00:00Z",
      "2026-01-31T00:00:00.000Z",
      "2026-02-28T00:00:00.000Z",
    ],
    [
      "anchor 31 in a leap February",
      { unit: "month", anchorDay: 31 },
      "2028-03-01T00:00:00Z",
      "2028-02-29T00:00:00.000Z",
      "2028-03-31T00:00:00.000Z",
    ],
    [
      "anchor 31 in April (30 days)",
      { unit: "month", anchorDay: 31 },
      "2026-04-30T00:00:00Z",
      "2026-04-30T00:00:00.000Z",
      "2026-05-31T00:00:00.000Z",
    ],
    [
      "anchor 15, before the anchor: the window began last month",
      { unit: "month", anchorDay: 15 },
      "2026-03-14T23:59:59Z",
      "2026-02-15T00:00:00.000Z",
      "2026-03-15T00:00:00.000Z",
    ],
    [
      "anchor 1 across the year end in Auckland",
      { unit: "month", timeZone: "Pacific/Auckland" },
      "2026-12-31T11:30:00Z",
      "2026-12-31T11:00:00.000Z",
      "2027-01-31T11:00:00.000Z",
    ],
    [
      "a New York month holding a DST change",
      { unit: "month", timeZone: "America/New_York" },
      "2026-03-20T00:00:00Z",
      "2026-03-01T05:00:00.000Z",
      "2026-04-01T04:00:00.000Z",
    ],
  ])("%s", (_name, spec, at, start, end) => {
    expect(window(spec, at)).toEqual([start, end]);
  });

  it("every instant of a year lies in exactly one window, and consecutive windows meet (every unit, several zones)", () => {
    const violations: string[] = [];
    for (const timeZone of ["UTC", "America/New_York", "America/Santiago", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]) {
      for (const unit of ["hour", "day", "week", "month"] as const) {
        const spec = { unit, timeZone, anchorDay: 31 };
        let at = new Date("2026-01-01T00:00:00Z");
        // Shorter than the shortest window of the unit, so no window is stepped over.
        const stepMs = unit === "hour" ? 37 * 60_000 : 5 * 3_600_000 + 17 * 60_000;
        let previous = calendarWindowAt(spec, at);
        while (at.getTime() < Date.parse("2027-01-01T00:00:00Z")) {
          const w = calendarWindowAt(spec, at);
          // Checked in plain code and reported together: ~100 000 instants, and three expect()
          // calls each made this test take minutes on a loaded machine (it timed out at 120 s).
          if (!(w.start.getTime() <= at.getTime() && at.getTime() < w.end.getTime())) {
            violations.push(`${timeZone} ${unit}: ${iso(at)} outside [${iso(w.start)}, ${iso(w.end)})`);
          }
          if (w.start.getTime() !== previous.start.getTime() && w.start.getTime() !== previous.end.getTime()) {
            violations.push(`${timeZone} ${unit}: window ${iso(w.start)} does not start where ${iso(previous.end)} ended`);
          }
          previous = w;
          at = new Date(at.getTime() + stepMs);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("startOfLocalDay normalises overflowing months and days", () => {
    expect(iso(startOfLocalDay(2026, 13, 1, "UTC"))).toBe("2027-01-01T00:00:00.000Z");
    expect(iso(startOfLocalDay(2026, 2, 29, "UTC"))).toBe("2026-03-01T00:00:00.000Z");
  });
});

describe("billing periods", () => {
  const period = (start: string, end: string) => ({ start: new Date(start), end: new Date(end) });
  const at = (p: ReturnType<typeof period>, t: string) => {
    const w = billingPeriodAt(p, new Date(t));
    return [iso(w.start), iso(w.end)];
  };

  it("inside the known period: that period", () => {
    expect(at(period("2026-11-15T09:30:00Z", "2026-12-15T09:30:00Z"), "2026-12-02T00:00:00Z")).toEqual([
      "2026-11-15T09:30:00.000Z",
      "2026-12-15T09:30:00.000Z",
    ]);
  });
  it("after it (a renewal not heard of yet): the next monthly periods on the same day and time", () => {
    const p = period("2026-11-15T09:30:00Z", "2026-12-15T09:30:00Z");
    expect(at(p, "2026-12-15T09:30:00Z")).toEqual(["2026-12-15T09:30:00.000Z", "2027-01-15T09:30:00.000Z"]);
    expect(at(p, "2027-03-01T00:00:00Z")).toEqual(["2027-02-15T09:30:00.000Z", "2027-03-15T09:30:00.000Z"]);
  });
  it("a period anchored on the 31st keeps its anchor after a short month", () => {
    const p = period("2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z");
    expect(at(p, "2026-03-30T00:00:00Z")).toEqual(["2026-02-28T00:00:00.000Z", "2026-03-31T00:00:00.000Z"]);
    expect(at(p, "2026-04-01T00:00:00Z")).toEqual(["2026-03-31T00:00:00.000Z", "2026-04-30T00:00:00.000Z"]);
  });
  it("a yearly period", () => {
    expect(at(period("2025-06-01T00:00:00Z", "2026-06-01T00:00:00Z"), "2026-07-01T00:00:00Z")).toEqual([
      "2026-06-01T00:00:00.000Z",
      "2027-06-01T00:00:00.000Z",
    ]);
  });
  it("a period of days, not months, repeats its duration", () => {
    expect(at(period("2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z"), "2026-12-01T00:00:00Z")).toEqual([
      "2026-11-29T00:00:00.000Z",
      "2026-12-13T00:00:00.000Z",
    ]);
  });
  it("before the known period (a clock behind): the periods before it", () => {
    expect(at(period("2026-11-15T00:00:00Z", "2026-12-15T00:00:00Z"), "2026-11-01T00:00:00Z")).toEqual([
      "2026-10-15T00:00:00.000Z",
      "2026-11-15T00:00:00.000Z",
    ]);
  });
});
