// A line diff for the policy editor's review step: the longest common
// subsequence of the two texts' lines, as a list of
//   { op: " " | "-" | "+", text, a, b }
// (a/b: 1-based line numbers in the old/new text; 0 where the line is not
// in that text). Pure, no DOM. Quadratic in the lines that differ after
// the common head and tail are cut, which a policy stays well within;
// above MAX_CELLS the middle is shown as all removed then all added.
const MAX_CELLS = 4_000_000;

export function lineDiff(oldText, newText) {
  const a = oldText.split("\n");
  const b = newText.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head &&
         a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const out = [];
  for (let i = 0; i < head; i++) out.push({ op: " ", text: a[i], a: i + 1, b: i + 1 });
  const n = am.length, m = bm.length;
  if (n * m > MAX_CELLS) {
    am.forEach((t, i) => out.push({ op: "-", text: t, a: head + i + 1, b: 0 }));
    bm.forEach((t, j) => out.push({ op: "+", text: t, a: 0, b: head + j + 1 }));
  } else {
    // lcs[i][j]: LCS length of am[i..] and bm[j..], flattened.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        lcs[i * w + j] = am[i] === bm[j] ? lcs[(i + 1) * w + j + 1] + 1
          : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push({ op: " ", text: am[i], a: head + i + 1, b: head + j + 1 });
        i++; j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
        out.push({ op: "-", text: am[i], a: head + i + 1, b: 0 });
        i++;
      } else {
        out.push({ op: "+", text: bm[j], a: 0, b: head + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < tail; k++) {
    const ai = a.length - tail + k, bi = b.length - tail + k;
    out.push({ op: " ", text: a[ai], a: ai + 1, b: bi + 1 });
  }
  return out;
}

// True when the diff changes anything.
export function hasChanges(diff) {
  return diff.some((d) => d.op !== " ");
}
