/**
 * The ingest manifest: for each indexed document, what it was indexed from. Plan diffs the origin against it, so
 * an unchanged document costs no download (S3 ETags) and no embedding call; Commit updates it after writing the
 * table. The table itself stays the truth about what is indexed: Plan trusts an entry only while the table's
 * rows of that source carry the entry's content hash, so a manifest that outlived its table (a deleted local
 * directory, a rebuilt table) costs a re-index, never a missing document.
 */
export interface ManifestEntry {
  source: string;
  /** sha256 of the document's bytes, as its rows' `contentHash`. */
  contentHash: string;
  /** The origin's change token when it was read (see `ListedSource.version`). */
  version: string;
  /**
   * The settings the chunks were made with (chunk size, overlap, source links); see `syncFingerprint`. An entry
   * written before the collection was tracked apart mixed in the sync's default collection (`fingerprintMatches`).
   */
  fingerprint: string;
  /** Rows the document has in the table. */
  chunks: number;
  /** The collection the document's rows are in (its front matter's, else its origin's, else the sync's). */
  collection: string | null;
  /**
   * The collection the document's own front matter names (null: none), so that a change of its origin's or the
   * sync's collection re-files it without reading it. Absent in entries written before it was recorded.
   */
  ownCollection?: string | null;
  /**
   * A hash of the document's chunks as split, but for their collection and content hash (see `splitHashOf`): a
   * document whose bytes changed and whose chunks did not (only its front matter's collection changed) is then
   * re-filed rather than re-embedded. Absent in entries written before it was recorded.
   */
  splitHash?: string;
  /** When the entry was written, epoch milliseconds. */
  syncedAt: number;
}

export interface ManifestStore {
  /** Every entry, by source. */
  load(): Promise<Map<string, ManifestEntry>>;
  /** Writes `put` and removes `remove`; idempotent, so a retried Commit may apply the same changes again. */
  apply(changes: { put: readonly ManifestEntry[]; remove: readonly string[] }): Promise<void>;
}

/** A manifest in memory: for tests and in-process runs. */
export class MemoryManifestStore implements ManifestStore {
  private readonly entries = new Map<string, ManifestEntry>();

  async load(): Promise<Map<string, ManifestEntry>> {
    return new Map([...this.entries].map(([source, entry]) => [source, { ...entry }]));
  }

  async apply(changes: { put: readonly ManifestEntry[]; remove: readonly string[] }): Promise<void> {
    for (const source of changes.remove) this.entries.delete(source);
    for (const entry of changes.put) this.entries.set(entry.source, { ...entry });
  }
}
