// Money crosses the wire as integer fen; people type and read yuan. The
// conversion works on the decimal text itself, never through floating point
// (0.29 * 100 is 28.999999999999996 in a double).

const yuanPattern = /^(\d{1,10})(?:\.(\d{0,2}))?$/;

/**
 * yuanToFen parses what a person typed ("19.99", "0.1", "12", " 3.5 ") into
 * integer fen. It answers null for anything that is not a non-negative amount
 * with at most two decimals (a third decimal is refused, not rounded).
 */
export function yuanToFen(text: string | number | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const s = String(text).trim().replace(/^¥/, "").replace(/,/g, "");
  const m = yuanPattern.exec(s);
  if (!m) return null;
  const whole = Number(m[1]);
  const cents = Number((m[2] ?? "").padEnd(2, "0"));
  const fen = whole * 100 + cents;
  return Number.isSafeInteger(fen) ? fen : null;
}

/** fenToYuan writes integer fen as yuan with two decimals: 1999 → "19.99". */
export function fenToYuan(fen: number | null | undefined): string {
  if (fen === null || fen === undefined || !Number.isFinite(fen)) return "";
  const n = Math.trunc(fen);
  const sign = n < 0 ? "-" : "";
  const abs = Math.abs(n);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** formatFen is fenToYuan with the currency sign, for display. */
export function formatFen(fen: number | null | undefined): string {
  const y = fenToYuan(fen);
  return y === "" ? "" : `¥${y}`;
}
