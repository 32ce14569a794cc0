// Turns web/ (and the modules it imports from web/node_modules) plus
// docs/api/openapi.yaml into a C source, so weft-controller carries its UI.
// JS and CSS get content-hashed names (/assets/NAME.HASH.EXT) and are
// served as immutable; index.html keeps its name and refers to them, its
// import map maps the bare module names to the hashed files. Every asset is
// stored plain and gzip-compressed (level 9, no name or time in the header:
// the output depends on the input bytes only). The total gzipped size is
// printed and the build fails above the budget.
//   node embed_web.mjs WEB_DIR OPENAPI_YAML OUT_C BUDGET_BYTES
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const [webDir, openapiPath, out, budgetArg] = process.argv.slice(2);
const budget = Number(budgetArg);
const mods = join(webDir, "node_modules");

// Bare module name -> file under node_modules. Only what the app imports
// (directly or through these modules) is embedded.
const vendor = {
  "preact": "preact/dist/preact.mjs",
  "preact/hooks": "preact/hooks/dist/hooks.mjs",
  "htm": "htm/dist/htm.mjs",
  "htm/preact": "htm/preact/index.mjs",
  "@preact/signals-core": "@preact/signals-core/dist/signals-core.mjs",
  "@preact/signals": "@preact/signals/dist/signals.mjs",
};

if (!existsSync(join(mods, "preact"))) {
  console.error(`embed_web: ${mods} is missing; run scripts/deps.sh run (npm ci in web/)`);
  process.exit(1);
}

const sha256 = (b) => createHash("sha256").update(b).digest();
const read = (p) => readFileSync(p);
// Source map comments point at files that are not served.
const stripMap = (b) => Buffer.from(b.toString("utf8").replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n"));

const assets = [];
function hashed(base, ext, bytes, ctype) {
  const h = sha256(bytes).toString("hex").slice(0, 12);
  const path = `/assets/${base}.${h}.${ext}`;
  assets.push({ path, bytes, ctype, immutable: true });
  return path;
}

const js = "text/javascript; charset=utf-8";
const importMap = { imports: {} };
for (const [name, file] of Object.entries(vendor)) {
  const base = name.replace(/^@/, "").replace(/\//g, "-");
  importMap.imports[name] = hashed(base, "js", stripMap(read(join(mods, file))), js);
}
// The UI's own modules besides app.js (web/*.js, web/pages/*.js,
// web/lib/*.js) are
// imported by the bare name "@weft/<path>" (e.g. "@weft/pages/nodes.js"),
// which the import map resolves to the hashed file: a page changes its
// own name only, and index.html (never cached) always maps the new one.
const ownModules = [];
for (const sub of ["", "pages", "lib"]) {
  const d = join(webDir, sub);
  if (!existsSync(d)) continue;
  for (const f of readdirSync(d).sort()) {
    if (f.endsWith(".js") && !(sub === "" && f === "app.js")) ownModules.push(sub ? `${sub}/${f}` : f);
  }
}
for (const rel of ownModules) {
  const base = rel.replace(/\.js$/, "").replace(/\//g, "-");
  importMap.imports[`@weft/${rel}`] = hashed(base, "js", read(join(webDir, rel)), js);
}
const appJs = hashed("app", "js", read(join(webDir, "app.js")), js);
const appCss = hashed("app", "css", read(join(webDir, "app.css")), "text/css; charset=utf-8");
const favicon = hashed("favicon", "svg", read(join(webDir, "favicon.svg")), "image/svg+xml");

// The import map is the one inline script; the CSP allows it by its hash
// (no 'unsafe-inline').
const mapText = JSON.stringify(importMap);
const mapHash = sha256(Buffer.from(mapText)).toString("base64");
let index = read(join(webDir, "index.html")).toString("utf8");
for (const [k, v] of Object.entries({
  "@app.js@": appJs,
  "@app.css@": appCss,
  "@favicon.svg@": favicon,
  "@importmap@": `<script type="importmap">${mapText}</script>`,
})) {
  if (!index.includes(k)) {
    console.error(`embed_web: web/index.html lacks ${k}`);
    process.exit(1);
  }
  index = index.replace(k, v);
}
assets.unshift({ path: "/index.html", bytes: Buffer.from(index), ctype: "text/html; charset=utf-8", immutable: false });

const csp = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${mapHash}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const gz = (b) => gzipSync(b, { level: constants.Z_BEST_COMPRESSION });
const carr = (name, b) => {
  const hex = [...b].map((x) => `0x${x.toString(16).padStart(2, "0")},`);
  const lines = [];
  for (let i = 0; i < hex.length; i += 16) lines.push("\t" + hex.slice(i, i + 16).join(""));
  return `static const unsigned char ${name}[] = {\n${lines.join("\n")}\n\t0x00};\n`;
};
const cstr = (s) => JSON.stringify(s); // ASCII only: a valid C literal

let c = "/* Generated from web/ by cmake/embed_web.mjs. Do not edit. */\n#include \"controller/web.h\"\n\n";
const entry = (a, i) => {
  const g = gz(a.bytes);
  a.gzLen = g.length;
  c += carr(`a${i}_plain`, a.bytes) + carr(`a${i}_gz`, g);
  const tag = sha256(a.bytes).toString("hex").slice(0, 20);
  return `\t{${cstr(a.path)}, ${cstr(a.ctype)}, ${cstr(`"${tag}"`)}, ${cstr(`"${tag}-gz"`)}, a${i}_plain, ${a.bytes.length}, a${i}_gz, ${g.length}, ${a.immutable ? 1 : 0}},\n`;
};
let table = "";
assets.forEach((a, i) => { table += entry(a, i); });
const api = { path: "/api/v1/openapi.yaml", bytes: read(openapiPath), ctype: "application/yaml; charset=utf-8", immutable: false };
const apiEntry = entry(api, assets.length);
c += `const struct web_asset web_assets[] = {\n${table}\t{0}\n};\n\n`;
c += `const struct web_asset web_openapi = ${apiEntry.trim().replace(/,$/, "")};\n\n`;
c += `const char web_csp[] = ${cstr(csp)};\n`;

const total = assets.reduce((s, a) => s + a.gzLen, 0);
const plain = assets.reduce((s, a) => s + a.bytes.length, 0);
c += `const size_t web_gz_total = ${total};\n`;
console.log(`web UI: ${assets.length} assets, ${plain} bytes, ${total} bytes gzipped (budget ${budget})`);
if (!(total <= budget)) {
  console.error(`embed_web: the UI is ${total} bytes gzipped, over the ${budget} byte budget`);
  process.exit(1);
}


writeFileSync(out, c);
