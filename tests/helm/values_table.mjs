// docs/deploy.md's table of the chart's values, made from values.yaml: one
// row per key that has a "# -- description" comment, with its default.
//   node values_table.mjs VALUES DOC           exit 1 when DOC's table differs
//   node values_table.mjs VALUES DOC --write   rewrite DOC's table
// The table sits between "<!-- values-table:begin -->" and
// "<!-- values-table:end -->" in DOC.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument, isMap } from 'yaml';

const BEGIN = '<!-- values-table:begin -->';
const END = '<!-- values-table:end -->';

function describe(comment) {
  const m = /(?:^|\n)\s*-- (.*)$/s.exec(comment ?? '');
  return m ? m[1].replace(/\s*\n\s*/g, ' ').trim() : null;
}

function rows(map, prefix, out) {
  map.items.forEach((pair, i) => {
    const key = `${prefix}${pair.key.value}`;
    // The first key's comment belongs to the map in yaml's tree.
    const text = describe(pair.key.commentBefore ?? (i === 0 ? map.commentBefore : null));
    if (text !== null) {
      const def = JSON.stringify(pair.value?.toJSON?.() ?? pair.value ?? null);
      out.push(`| \`${key}\` | \`${def.replaceAll('|', '\\|')}\` | ${text.replaceAll('|', '\\|')} |`);
    } else if (isMap(pair.value)) {
      rows(pair.value, `${key}.`, out);
    } else {
      throw new Error(`${key} has no "# -- " description in values.yaml`);
    }
  });
  return out;
}

export function table(valuesPath) {
  const doc = parseDocument(readFileSync(valuesPath, 'utf8'));
  if (doc.errors.length) throw doc.errors[0];
  return ['| key | default | meaning |', '|---|---|---|', ...rows(doc.contents, '', [])].join('\n');
}

const [valuesPath, docPath, mode] = process.argv.slice(2);
const text = readFileSync(docPath, 'utf8');
const b = text.indexOf(BEGIN);
const e = text.indexOf(END);
if (b < 0 || e < b) {
  console.error(`${docPath}: no ${BEGIN} ... ${END} block`);
  process.exit(1);
}
const want = `${BEGIN}\n${table(valuesPath)}\n${END}`;
const have = text.slice(b, e + END.length);
if (mode === '--write') {
  writeFileSync(docPath, text.slice(0, b) + want + text.slice(e + END.length));
} else if (have !== want) {
  console.error(`not ok - ${docPath}'s values table differs from ${valuesPath}; ` +
    `run: node tests/helm/values_table.mjs ${valuesPath} ${docPath} --write`);
  const h = have.split('\n');
  want.split('\n').forEach((line, i) => {
    if (line !== h[i]) console.error(`  want: ${line}\n  have: ${h[i] ?? '(nothing)'}`);
  });
  process.exit(1);
} else {
  console.log(`ok - ${docPath}'s values table matches ${valuesPath}`);
}
