// Flag value parsers shared by the long-running modes (operator, agent). Pure; no I/O.

/** `10s`, `500ms`, `5m`, `1h` or a bare number of seconds → milliseconds; undefined when invalid or not positive. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  return ms > 0 ? ms : undefined;
}
