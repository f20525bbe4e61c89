// The SKU matrix: every combination of the product's spec dimensions
// (colour × size ...) is one SKU row. Rebuilding after a dimension changes
// keeps what was typed into rows whose combination still exists.

export interface SpecDimension {
  name: string;
  values: string[];
}

export interface SkuRow {
  id?: number;
  specs: Record<string, string>;
  sku_code: string;
  price: string; // yuan, as typed
  original_price: string; // yuan, as typed; empty for none
  stock: number;
  weight_grams: number;
  image: string;
}

export const maxDimensions = 5; // the API takes at most 5 spec keys
export const maxSkus = 100; // and at most 100 SKUs

/** specKey names a combination independently of key order. */
export function specKey(specs: Record<string, string>): string {
  return Object.keys(specs)
    .sort()
    .map((k) => `${k}=${specs[k]}`)
    .join("\u0001");
}

/**
 * dimensionProblems lists what stops a matrix from being built: empty or
 * repeated names, empty or repeated values, too many dimensions or rows.
 * Each entry is an i18n key with its parameters.
 */
export function dimensionProblems(dims: SpecDimension[]): { key: string; params?: Record<string, unknown> }[] {
  const out: { key: string; params?: Record<string, unknown> }[] = [];
  if (dims.length > maxDimensions) out.push({ key: "sku.tooManyDimensions", params: { max: maxDimensions } });
  const names = new Set<string>();
  for (const d of dims) {
    const name = d.name.trim();
    if (!name) out.push({ key: "sku.emptyDimension" });
    else if (names.has(name)) out.push({ key: "sku.duplicateDimension", params: { name } });
    names.add(name);
    if (d.values.length === 0) out.push({ key: "sku.noValues", params: { name } });
    const seen = new Set<string>();
    for (const v of d.values) {
      const value = v.trim();
      if (!value) out.push({ key: "sku.emptyValue", params: { name } });
      else if (seen.has(value)) out.push({ key: "sku.duplicateValue", params: { name, value } });
      seen.add(value);
    }
  }
  const rows = dims.reduce((n, d) => n * Math.max(d.values.length, 1), 1);
  if (rows > maxSkus) out.push({ key: "sku.tooManySkus", params: { max: maxSkus, rows } });
  return out;
}

/** combinations lists every spec combination, first dimension slowest. */
export function combinations(dims: SpecDimension[]): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const d of dims) {
    const name = d.name.trim();
    const next: Record<string, string>[] = [];
    for (const partial of out) {
      for (const v of d.values) next.push({ ...partial, [name]: v.trim() });
    }
    out = next;
  }
  return out;
}

/**
 * buildMatrix answers one row per combination of dims, in order. A row of
 * previous with the same combination is kept as it was (its id, code, price,
 * stock); new combinations get an empty row with a code made from base.
 */
export function buildMatrix(dims: SpecDimension[], previous: SkuRow[], base = "SKU"): SkuRow[] {
  const byKey = new Map(previous.map((r) => [specKey(r.specs), r]));
  const used = new Set(previous.map((r) => r.sku_code));
  let n = 1;
  const nextCode = () => {
    for (;;) {
      const code = `${base}-${n++}`;
      if (!used.has(code)) {
        used.add(code);
        return code;
      }
    }
  };
  return combinations(dims).map((specs) => {
    const kept = byKey.get(specKey(specs));
    if (kept) return { ...kept, specs };
    return { specs, sku_code: nextCode(), price: "", original_price: "", stock: 0, weight_grams: 0, image: "" };
  });
}

/** dimensionsOf recovers the dimensions of existing SKUs, values in first-seen order. */
export function dimensionsOf(skus: { specs?: Record<string, string> }[]): SpecDimension[] {
  const dims: SpecDimension[] = [];
  for (const s of skus) {
    for (const [name, value] of Object.entries(s.specs ?? {})) {
      let d = dims.find((x) => x.name === name);
      if (!d) dims.push((d = { name, values: [] }));
      if (!d.values.includes(value)) d.values.push(value);
    }
  }
  return dims;
}
