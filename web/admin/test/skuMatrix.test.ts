import { describe, expect, test } from "vitest";
import { buildMatrix, combinations, dimensionProblems, dimensionsOf, specKey, type SkuRow } from "../src/lib/skuMatrix";

const colourSize = [
  { name: "颜色", values: ["红色", "蓝色"] },
  { name: "尺码", values: ["S", "M", "L"] },
];

describe("combinations", () => {
  test("colour × size gives every pair, first dimension slowest", () => {
    const c = combinations(colourSize);
    expect(c).toHaveLength(6);
    expect(c[0]).toEqual({ 颜色: "红色", 尺码: "S" });
    expect(c[2]).toEqual({ 颜色: "红色", 尺码: "L" });
    expect(c[3]).toEqual({ 颜色: "蓝色", 尺码: "S" });
    expect(new Set(c.map(specKey)).size).toBe(6);
  });
  test("no dimension is one SKU without specs", () => {
    expect(combinations([])).toEqual([{}]);
  });
});

describe("buildMatrix", () => {
  test("new rows get distinct codes and empty prices", () => {
    const rows = buildMatrix(colourSize, [], "P7");
    expect(rows.map((r) => r.sku_code)).toEqual(["P7-1", "P7-2", "P7-3", "P7-4", "P7-5", "P7-6"]);
    expect(rows.every((r) => r.price === "" && r.stock === 0)).toBe(true);
  });

  test("adding a value keeps what was typed in the surviving rows", () => {
    const first = buildMatrix([{ name: "颜色", values: ["红色", "蓝色"] }], [], "P");
    first[0].price = "19.99";
    first[0].stock = 5;
    first[1].price = "29.90";
    first[1].id = 42;
    const second = buildMatrix([{ name: "颜色", values: ["红色", "蓝色", "绿色"] }], first, "P");
    expect(second).toHaveLength(3);
    expect(second[0]).toMatchObject({ specs: { 颜色: "红色" }, price: "19.99", stock: 5, sku_code: "P-1" });
    expect(second[1]).toMatchObject({ specs: { 颜色: "蓝色" }, price: "29.90", id: 42, sku_code: "P-2" });
    expect(second[2]).toMatchObject({ specs: { 颜色: "绿色" }, price: "", sku_code: "P-3" });
  });

  test("a new dimension starts new combinations; codes never collide with kept ones", () => {
    const prev: SkuRow[] = [
      { specs: { 颜色: "红色", 尺码: "S" }, sku_code: "X-2", price: "1", original_price: "", stock: 1, weight_grams: 0, image: "" },
    ];
    const rows = buildMatrix(colourSize, prev, "X");
    expect(rows).toHaveLength(6);
    expect(rows[0].sku_code).toBe("X-2");
    const codes = rows.map((r) => r.sku_code);
    expect(new Set(codes).size).toBe(6);
  });

  test("key order of specs does not matter", () => {
    const prev: SkuRow[] = [
      { specs: { 尺码: "M", 颜色: "蓝色" }, sku_code: "K", price: "9.9", original_price: "", stock: 0, weight_grams: 0, image: "" },
    ];
    const rows = buildMatrix(colourSize, prev);
    expect(rows.find((r) => r.sku_code === "K")?.specs).toEqual({ 颜色: "蓝色", 尺码: "M" });
  });
});

describe("dimensionProblems", () => {
  test("a good matrix has none", () => {
    expect(dimensionProblems(colourSize)).toEqual([]);
  });
  test("names each problem", () => {
    const keys = (d: Parameters<typeof dimensionProblems>[0]) => dimensionProblems(d).map((p) => p.key);
    expect(keys([{ name: "", values: ["a"] }])).toContain("sku.emptyDimension");
    expect(keys([{ name: "颜色", values: ["a"] }, { name: "颜色", values: ["b"] }])).toContain("sku.duplicateDimension");
    expect(keys([{ name: "颜色", values: [] }])).toContain("sku.noValues");
    expect(keys([{ name: "颜色", values: ["红", "红"] }])).toContain("sku.duplicateValue");
    expect(keys(Array.from({ length: 6 }, (_, i) => ({ name: `d${i}`, values: ["a"] })))).toContain("sku.tooManyDimensions");
    expect(keys([{ name: "a", values: Array.from({ length: 11 }, (_, i) => `${i}`) }, { name: "b", values: Array.from({ length: 10 }, (_, i) => `${i}`) }])).toContain("sku.tooManySkus");
  });
});

test("dimensionsOf recovers dimensions from saved SKUs", () => {
  const skus = combinations(colourSize).map((specs) => ({ specs }));
  expect(dimensionsOf(skus)).toEqual(colourSize);
});
