import { PermanentError } from '../errors';

/** The one command that rebuilds the index from the documents, named in every error that needs it. */
export const REBUILD_COMMAND = 'npm run ingest -- --rebuild';

/** What a table was built with, or what a caller expects it to have been built with. */
export interface EmbedderSignature {
  embedderName: string;
  dimensions: number;
}

/**
 * The table's vectors were made by another embedder (or another dimension) than the one in use. Searching
 * would compare unrelated vector spaces and writing would mix them, so neither is attempted; retrying cannot
 * help, only re-indexing can.
 */
export class EmbeddingMismatchError extends PermanentError {
  override name = 'EmbeddingMismatchError';

  constructor(
    readonly table: string,
    readonly stored: EmbedderSignature,
    readonly expected: EmbedderSignature,
  ) {
    super(
      `the vector table "${table}" was built with the embedder ${describe(stored)}, but this function uses ` +
        `${describe(expected)}; re-index the documents with \`${REBUILD_COMMAND}\`, or set the embedding ` +
        'model back to the one the index was built with',
    );
  }
}

/** The table exists but is not a document table this code can read (missing columns, older layout). */
export class IncompatibleTableError extends PermanentError {
  override name = 'IncompatibleTableError';

  constructor(table: string, problem: string) {
    super(`the vector table "${table}" ${problem}; re-index the documents with \`${REBUILD_COMMAND}\``);
  }
}

function describe(signature: EmbedderSignature): string {
  return `"${signature.embedderName}" (${signature.dimensions} dimensions)`;
}
