// What the browser tests share: the browser's path, pass/fail reporting and
// a free loopback port for the controller they start.
import { existsSync } from "node:fs";
import { createServer } from "node:net";

// Debian's chromium (or $WEFT_CHROMIUM); exits when it is missing.
export function findBrowser(test) {
  const p = process.env.WEFT_CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(p)) {
    console.error(`${test}: no browser at ${p}; scripts/deps.sh test installs Debian's chromium`);
    process.exit(1);
  }
  return p;
}

// Prints "ok"/"FAIL" per check and remembers the failures.
export const failures = [];
export function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
