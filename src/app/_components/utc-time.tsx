import { formatUtc } from "../_lib/format";

/** A UTC timestamp as text, with the exact instant in `dateTime` for machines. */
export function UtcTime({ value, precision = "minute" }: { value: Date; precision?: Parameters<typeof formatUtc>[1] }) {
  return <time dateTime={value.toISOString()}>{formatUtc(value, precision)}</time>;
}
