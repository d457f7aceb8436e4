"use client";

import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export interface ChartSeries {
  metric: string;
  label: string;
  /** "bytes" formats the axis in binary units. */
  unit: "count" | "bytes";
  /** The current limit, drawn as a reference line (null: unlimited). */
  limit: number | null;
  points: { day: string; count: number }[];
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function short(value: number, unit: ChartSeries["unit"]): string {
  if (unit === "bytes") {
    let v = value;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
      v /= 1024;
      i++;
    }
    return `${Number.isInteger(v) ? v : v.toFixed(1)} ${UNITS[i]}`;
  }
  return new Intl.NumberFormat("en-US", { notation: "compact" }).format(value);
}

/**
 * Daily usage (UTC) over the last 90 days for one metric, from the ledger's running totals.
 * A client component: recharts measures the DOM. The data comes from the server page.
 */
export function UsageChart({ series }: { series: ChartSeries }) {
  const last = series.points.at(-1);
  return (
    <figure className="chart" aria-label={`${series.label} over the last ${series.points.length} days`}>
      <figcaption>
        <strong>{series.label}</strong>{" "}
        <span className="muted">
          {series.points[0]?.day} → {last?.day} (UTC){last ? ` · now ${short(last.count, series.unit)}` : ""}
        </span>
      </figcaption>
      <div style={{ width: "100%", height: 180 }}>
        <ResponsiveContainer width="100%" height="100%" minWidth={0} initialDimension={{ width: 400, height: 180 }}>
          <LineChart data={series.points} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#dfe3e8" strokeDasharray="3 3" />
            <XAxis dataKey="day" tick={{ fontSize: 11 }} minTickGap={40} tickFormatter={(d: string) => d.slice(5)} />
            <YAxis tick={{ fontSize: 11 }} width={64} tickFormatter={(v: number) => short(v, series.unit)} allowDecimals={false} />
            <Tooltip formatter={(v) => short(Number(v), series.unit)} labelFormatter={(d) => `${String(d)} (UTC)`} />
            {series.limit !== null ? (
              <ReferenceLine y={series.limit} stroke="#b42318" strokeDasharray="4 4" ifOverflow="extendDomain" />
            ) : null}
            <Line
              type="stepAfter"
              dataKey="count"
              name={series.label}
              stroke="#2353c4"
              dot={false}
              strokeWidth={2}
              isAnimationActive={false}
            />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
