import { describe, expect, test } from "vitest";
import { fenToYuan, formatFen, yuanToFen } from "../src/lib/money";

describe("yuanToFen", () => {
  test("typed amounts become exact fen", () => {
    expect(yuanToFen("19.99")).toBe(1999);
    expect(yuanToFen("0.1")).toBe(10);
    expect(yuanToFen("0.2")).toBe(20);
    expect(yuanToFen("12")).toBe(1200);
    expect(yuanToFen("12.")).toBe(1200);
    expect(yuanToFen(" 3.5 ")).toBe(350);
    expect(yuanToFen("¥1,299.00")).toBe(129900);
    expect(yuanToFen("0.01")).toBe(1);
    expect(yuanToFen("0")).toBe(0);
  });

  test("values a double gets wrong stay exact", () => {
    // Each of these times 100 in floating point is off by a hair
    // (0.29 * 100 = 28.999999999999996), so truncating would lose a fen.
    const cases: Record<string, number> = { "0.29": 29, "0.57": 57, "1.13": 113, "4.35": 435, "8.2": 820, "19.99": 1999, "1.005e2": -1 };
    for (const [typed, fen] of Object.entries(cases)) {
      if (fen < 0) expect(yuanToFen(typed)).toBeNull();
      else expect(yuanToFen(typed)).toBe(fen);
    }
    expect(0.29 * 100).not.toBe(29); // the trap the parser avoids
    // 0.1 + 0.2 typed as two prices add up to exactly 30 fen.
    expect((yuanToFen("0.1") ?? 0) + (yuanToFen("0.2") ?? 0)).toBe(30);
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(yuanToFen(String(0.1 + 0.2))).toBeNull(); // "0.30000000000000004" is refused, not rounded
  });

  test("anything else is refused, not rounded", () => {
    for (const bad of ["", " ", "abc", "1.234", "-1", "1e3", "1.2.3", "０.５", ".5", "1 000", "NaN", "Infinity", null, undefined]) {
      expect(yuanToFen(bad as string)).toBeNull();
    }
  });

  test("every cent from 0.00 to 99.99 round-trips", () => {
    for (let fen = 0; fen < 10000; fen++) {
      expect(yuanToFen(fenToYuan(fen))).toBe(fen);
    }
  });
});

describe("fenToYuan", () => {
  test("two decimals always", () => {
    expect(fenToYuan(1999)).toBe("19.99");
    expect(fenToYuan(10)).toBe("0.10");
    expect(fenToYuan(1)).toBe("0.01");
    expect(fenToYuan(0)).toBe("0.00");
    expect(fenToYuan(100000000000)).toBe("1000000000.00");
    expect(fenToYuan(-250)).toBe("-2.50");
    expect(fenToYuan(undefined)).toBe("");
    expect(formatFen(129900)).toBe("¥1299.00");
  });
});
