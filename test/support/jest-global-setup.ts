import { applyLanceDbThreadSettings } from '../../functions/core/vector-store/lancedb-threads';

/**
 * Runs once in Jest's own process, before any test. A test's `process.env` is a copy that the native LanceDB
 * module never sees, so the thread settings connectVectorStore applies would not reach it from inside a test:
 * they are applied here, to the real environment, which the test workers inherit.
 */
export default function globalSetup(): void {
  applyLanceDbThreadSettings();
}
