// Minimum-cost assignment (Hungarian / Kuhn–Munkres with potentials, O(n²·m)) for an n×m cost matrix with
// n ≤ m: every row gets a distinct column. Shortest augmenting paths over reduced costs; see Kuhn 1955,
// Munkres 1957, and the potentials formulation of Edmonds & Karp 1972.

/** Returns, for each row, the column assigned to it. Throws when rows > columns or a cost is not finite. */
export function hungarian(cost: ArrayLike<number>[] | Float64Array[]): Int32Array {
  const n = cost.length;
  if (n === 0) return new Int32Array(0);
  const m = cost[0].length;
  if (n > m) throw new RangeError(`hungarian: ${n} rows but only ${m} columns; transpose the problem`);
  for (let i = 0; i < n; i++) {
    if (cost[i].length !== m) throw new RangeError(`hungarian: row ${i} has ${cost[i].length} columns, expected ${m}`);
    for (let j = 0; j < m; j++) if (!Number.isFinite(cost[i][j])) throw new RangeError(`hungarian: cost[${i}][${j}] is not finite`);
  }
  // 1-based internally; column 0 is a virtual column holding the row being inserted.
  const u = new Float64Array(n + 1); // row potentials
  const v = new Float64Array(m + 1); // column potentials
  const rowOf = new Int32Array(m + 1); // rowOf[j] = row matched to column j (0 = none)
  const prev = new Int32Array(m + 1); // previous column on the shortest alternating path
  const minSlack = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    minSlack.fill(Infinity);
    used.fill(0);
    // Dijkstra-like growth of the alternating tree until a free column is reached.
    do {
      used[j0] = 1;
      const i0 = rowOf[j0];
      const row = cost[i0 - 1];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = row[j - 1] - u[i0] - v[j];
        if (reduced < minSlack[j]) {
          minSlack[j] = reduced;
          prev[j] = j0;
        }
        if (minSlack[j] < delta) {
          delta = minSlack[j];
          j1 = j;
        }
      }
      // Shift potentials so the tightest edge becomes tight (reduced cost 0).
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[rowOf[j]] += delta;
          v[j] -= delta;
        } else {
          minSlack[j] -= delta;
        }
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    // Flip the augmenting path.
    do {
      const j1 = prev[j0];
      rowOf[j0] = rowOf[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const assignment = new Int32Array(n);
  for (let j = 1; j <= m; j++) if (rowOf[j] > 0) assignment[rowOf[j] - 1] = j - 1;
  return assignment;
}

/** Total cost of an assignment (for tests and diagnostics). */
export function assignmentCost(cost: ArrayLike<number>[], assignment: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < assignment.length; i++) total += cost[i][assignment[i]];
  return total;
}
