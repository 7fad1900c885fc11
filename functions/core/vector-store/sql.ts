/**
 * SQL literals for LanceDB filters. Filters carry values that come from documents and from callers (source
 * names, collection names), and a collection filter is an access-control boundary, so values are never
 * pasted into SQL unescaped. LanceDB's SQL dialect treats backslashes literally: doubling single quotes is
 * the whole escape.
 */

/** A single-quoted SQL string literal for `value`. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `column IN ('a', 'b')` for a non-empty list of values. */
export function sqlIn(column: string, values: readonly string[]): string {
  if (values.length === 0) throw new RangeError(`sqlIn(${column}) needs at least one value`);
  return `${column} IN (${values.map(sqlString).join(', ')})`;
}
