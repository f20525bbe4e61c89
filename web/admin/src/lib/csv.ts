// CSV for spreadsheets: RFC 4180 quoting, CRLF line ends, and a UTF-8 byte
// order mark first so Excel reads Chinese text as UTF-8.

export const BOM = "\uFEFF";

function cell(v: unknown): string {
  let s = v === null || v === undefined ? "" : String(v);
  // A cell starting with = + - @ would be run as a formula by Excel.
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCSV(header: string[], rows: unknown[][]): string {
  return BOM + [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

export function download(name: string, text: string, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
