export * from "./client.js";
export * from "./errors.js";
export * from "./miniprogram.js";
export * from "./tokens.js";
export * from "./transport.js";
export type { components, paths, operations } from "./schema.js";
