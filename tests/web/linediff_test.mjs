// Unit tests of web/lib/linediff.js (ctest web_linediff): node --test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lineDiff, hasChanges } from "../../web/lib/linediff.js";

const ops = (d) => d.map((x) => x.op + x.text);

// Rebuilds both texts from a diff: what every correct diff must allow.
function sides(d) {
  return [d.filter((x) => x.op !== "+").map((x) => x.text).join("\n"),
          d.filter((x) => x.op !== "-").map((x) => x.text).join("\n")];
}

test("equal texts have no changes", () => {
  const d = lineDiff("a\nb\nc", "a\nb\nc");
  assert.deepEqual(ops(d), [" a", " b", " c"]);
  assert.equal(hasChanges(d), false);
});

test("a changed line is a removal then an addition, with line numbers", () => {
  const d = lineDiff("{\n  \"x\": 1\n}", "{\n  \"x\": 2\n}");
  assert.deepEqual(ops(d), [" {", "-  \"x\": 1", "+  \"x\": 2", " }"]);
  assert.deepEqual(d.map((x) => [x.a, x.b]), [[1, 1], [2, 0], [0, 2], [3, 3]]);
  assert.equal(hasChanges(d), true);
});

test("insertions and deletions keep the common lines", () => {
  const d = lineDiff("a\nb\nc\nd", "a\nc\nx\nd\ne");
  assert.deepEqual(ops(d), [" a", "-b", " c", "+x", " d", "+e"]);
});

test("empty sides", () => {
  assert.deepEqual(ops(lineDiff("", "a")), ["-", "+a"]);
  assert.deepEqual(ops(lineDiff("a\nb", "")), ["-a", "-b", "+"]);
});

test("random edits: the diff rebuilds both texts and is minimal-ish", () => {
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let round = 0; round < 300; round++) {
    const a = Array.from({ length: rnd(20) }, () => "l" + rnd(5));
    const b = a.slice();
    for (let k = rnd(6); k > 0; k--) {
      const at = rnd(b.length + 1);
      if (rnd(2) && b.length) b.splice(at % b.length, 1);
      else b.splice(at, 0, "n" + rnd(5));
    }
    const d = lineDiff(a.join("\n"), b.join("\n"));
    assert.deepEqual(sides(d), [a.join("\n"), b.join("\n")]);
    // Numbers count up on each side.
    const an = d.filter((x) => x.op !== "+").map((x) => x.a);
    const bn = d.filter((x) => x.op !== "-").map((x) => x.b);
    assert.deepEqual(an, an.map((_, i) => i + 1));
    assert.deepEqual(bn, bn.map((_, i) => i + 1));
  }
});
