/** Display formatting for the dashboard (no domain logic here). */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/** 64-bit byte count in binary units: 1536n → "1.5 KiB". Exact below 1 KiB. */
export function formatBytes(bytes: bigint): string {
  if (bytes < 1024n) return `${bytes} B`;
  let unit = 0;
  let whole = bytes;
  while (whole >= 1024n * 1024n && unit < UNITS.length - 2) {
    whole /= 1024n;
    unit++;
  }
  // `whole` is < 1024² here, so the division below is exact enough as a Number.
  const value = Number(whole) / 1024;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const text = value
    .toFixed(digits)
    .replace(/(\.\d*?)0+$/, "$1")
    .replace(/\.$/, "");
  return `${text} ${UNITS[unit + 1]}`;
}

const integer = new Intl.NumberFormat("en-US");

export function formatCount(value: bigint | number): string {
  return integer.format(value);
}

/** A ledger delta with its sign: 3n → "+3", -1n → "-1". */
export function formatSigned(value: bigint): string {
  return value > 0n ? `+${formatCount(value)}` : formatCount(value);
}

const dateFormat = new Intl.DateTimeFormat("en-GB", { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });

export function formatDate(value: Date): string {
  return dateFormat.format(value);
}

/** `on_hold` → "On hold". */
export function formatStatus(status: string): string {
  const words = status.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const UTC_LENGTH = { minute: 16, second: 19, millisecond: 23 } as const;

/** "2026-11-24 04:18" (minute), "…:49" (second) or "…:49.123" (millisecond), always UTC. */
export function formatUtc(value: Date, precision: keyof typeof UTC_LENGTH = "minute"): string {
  return value.toISOString().replace("T", " ").slice(0, UTC_LENGTH[precision]);
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration ahead, as a person says it, rounded down: "less than a minute", "42 min",
 * "3 h 12 min", "1 day 5 h", "12 days" (from two days on, the day count is what matters).
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < MINUTE) return "less than a minute";
  const days = Math.floor(s / DAY);
  const hours = Math.floor((s % DAY) / HOUR);
  const minutes = Math.floor((s % HOUR) / MINUTE);
  if (days >= 2) return `${days} days`;
  if (days === 1) return hours ? `1 day ${hours} h` : "1 day";
  if (hours) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  return `${minutes} min`;
}
