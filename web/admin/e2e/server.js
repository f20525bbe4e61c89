// Starts the built minimall binary (MINIMALL_BIN, else `go run`) with
// `serve --demo` on free ports and a fresh SQLite file, waits for /healthz,
// and stops it when asked. E2E_BASE_URL and E2E_SANDBOX_URL point the tests
// at a server that is already running instead.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startDemo() {
  if (process.env.E2E_BASE_URL) {
    return { baseURL: process.env.E2E_BASE_URL, sandboxURL: process.env.E2E_SANDBOX_URL, log: () => "", stop: async () => {} };
  }
  const [httpPort, sandboxPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(os.tmpdir(), "minimall-console-"));
  const cmd = process.env.MINIMALL_BIN ? [process.env.MINIMALL_BIN] : ["go", "run", "./cmd/minimall"];
  const child = spawn(cmd[0], [...cmd.slice(1), "serve", "--demo"], {
    cwd: repo,
    env: {
      ...process.env,
      MINIMALL_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      MINIMALL_SANDBOX_ADDR: `127.0.0.1:${sandboxPort}`,
      MINIMALL_DB_DSN: path.join(dir, "demo.db"),
      MINIMALL_MEDIA_DIR: path.join(dir, "media"),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stopping reaches what go run started
  });
  let log = "";
  child.stdout.on("data", (b) => (log += b));
  child.stderr.on("data", (b) => (log += b));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const baseURL = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("the demo server exited:\n" + log);
    try {
      const r = await fetch(baseURL + "/healthz");
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error("the demo server did not start:\n" + log);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseURL,
    sandboxURL: `http://127.0.0.1:${sandboxPort}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null) process.kill(-child.pid, "SIGINT");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
