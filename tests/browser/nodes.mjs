// Nodes for the browser tests (beside harness.mjs): one registered
// through REST, and a real `weft-agent up --no-tun`.
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";

// A node registered through REST with a fresh Ed25519 key; resolves to
// the answer ({node, credential}).
export async function register(base, authKey, hostname, routes) {
  const publicKey = generateKeyPairSync("ed25519").publicKey
    .export({ format: "der", type: "spki" }).subarray(12).toString("base64");
  const r = await fetch(`${base}/api/v1/register`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ auth_key: authKey, public_key: publicKey, hostname, os: "linux", version: "test",
      ...(routes ? { advertised_routes: routes } : {}) }),
  });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${await r.text()}`);
  return r.json();
}

// A real agent joining the controller at base, its state under dir.
// Returns the process; its output collects in .log.
export function startAgent(agentBin, base, dir, hostname, authKey) {
  const proc = spawn(agentBin, ["up", "--controller", base, "--state-dir", join(dir, `agent-${hostname}`),
    "--socket", join(dir, `agent-${hostname}.sock`), "--no-tun", "--hostname", hostname, "--auth-key", authKey],
  { stdio: ["ignore", "pipe", "pipe"] });
  proc.log = "";
  proc.stdout.on("data", (d) => { proc.log += d; });
  proc.stderr.on("data", (d) => { proc.log += d; });
  return proc;
}
