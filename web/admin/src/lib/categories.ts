import type { Schemas } from "@/api/client";

type Category = Schemas["AdminCategory"];

export interface CategoryOption {
  value: number;
  label: string;
  children?: CategoryOption[];
}

/** categoryOptions turns the admin tree into cascader options. */
export function categoryOptions(tree: Category[] | undefined): CategoryOption[] {
  return (tree ?? []).map((c) => {
    const children = categoryOptions(c.children);
    return { value: c.id ?? 0, label: c.name ?? "", ...(children.length ? { children } : {}) };
  });
}

/** categoryNames maps every category id to its path ("服装 / 上衣"). */
export function categoryNames(tree: Category[] | undefined, prefix = "", out = new Map<number, string>()): Map<number, string> {
  for (const c of tree ?? []) {
    const name = prefix ? `${prefix} / ${c.name}` : (c.name ?? "");
    out.set(c.id ?? 0, name);
    categoryNames(c.children, name, out);
  }
  return out;
}
