import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import zh from "../src/i18n/zh";
import en from "../src/i18n/en";

function keys(o: object, prefix = ""): string[] {
  return Object.entries(o).flatMap(([k, v]) => (typeof v === "object" && v !== null ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(vue|ts)$/.test(f) && !f.endsWith("schema.ts") ? [p] : [];
  });
}

test("both languages have the same keys", () => {
  expect(keys(en).sort()).toEqual(keys(zh).sort());
});

const permission = /^[a-z]+\.(write|adjust|view|ship|decide|receive|moderate|manage|resolve)$/;

test("every literal key the sources use exists", () => {
  const known = new Set(keys(zh));
  const groups = new Set(Object.keys(zh));
  const missing: string[] = [];
  for (const file of sources(path.resolve(__dirname, "../src"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/["'`]([a-z][A-Za-z]*\.[a-z][A-Za-z_]*)["'`]/g)) {
      const key = m[1];
      if (!groups.has(key.split(".")[0])) continue; // not an i18n key (e.g. a file name)
      if (permission.test(key)) continue; // a permission name (lib/perm.ts)
      if (!known.has(key)) missing.push(`${path.basename(file)}: ${key}`);
    }
  }
  expect(missing).toEqual([]);
});
