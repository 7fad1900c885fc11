import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Real documents nobody on this project wrote, from Debian's packages: the Debian Policy Manual and the FHS as PDF
 * (`debian-policy`), the Debian Reference as HTML in English and Japanese (`debian-reference-en`,
 * `debian-reference-ja`), and `pandoc` to turn HTML into real Word files. .ci/run installs them. On a person's
 * machine without them a suite that needs them is skipped, its title saying how to install them (the one line
 * test/support/skipped-reporter.js prints); with CI=true a missing package fails the suite instead.
 */

export const DEBIAN_PACKAGES = ['debian-policy', 'debian-reference-en', 'debian-reference-ja', 'pandoc'];

export const DEBIAN_INSTALL_HINT = `apt-get install -y ${DEBIAN_PACKAGES.join(' ')} (Debian, Ubuntu)`;

export const DEBIAN_DOCUMENTS = {
  /** The Debian Policy Manual, about 1 MB gzipped. */
  policyPdf: '/usr/share/doc/debian-policy/policy.pdf.gz',
  /** The Filesystem Hierarchy Standard 3.0. */
  fhsPdf: '/usr/share/doc/debian-policy/fhs/fhs-3.0.pdf.gz',
  /** The FHS as one HTML page. */
  fhsHtml: '/usr/share/doc/debian-policy/fhs/fhs-3.0.html',
  /** The Debian Reference, one HTML file per chapter: `ch01.en.html`, `ch01.ja.html`, … */
  referenceDir: '/usr/share/debian-reference',
  pandoc: '/usr/bin/pandoc',
} as const;

/** The documents' paths that are missing on this machine. */
export function missingDebianDocuments(
  needs: readonly (keyof typeof DEBIAN_DOCUMENTS)[] = Object.keys(
    DEBIAN_DOCUMENTS,
  ) as (keyof typeof DEBIAN_DOCUMENTS)[],
): string[] {
  return needs.map((key) => DEBIAN_DOCUMENTS[key]).filter((path) => !existsSync(path));
}

/**
 * The bytes of a Debian document, gunzipped when it ships gzipped (`policy.pdf.gz` → the PDF).
 */
export function readDebianDocument(path: string): Buffer {
  const bytes = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/** The document written to a temporary folder under its own name without `.gz`; its path. */
export function debianDocumentFile(path: string, dir = join(tmpdir(), 'debian-documents')): string {
  mkdirSync(dir, { recursive: true });
  const target = join(dir, basename(path).replace(/\.gz$/, ''));
  if (!existsSync(target)) writeFileSync(target, readDebianDocument(path));
  return target;
}

/**
 * Declares the suite `title` when the documents it `needs` are installed; otherwise a skipped suite saying why (or,
 * with CI=true, a suite whose one test fails saying how to install them).
 */
export function describeWithDebianDocuments(
  title: string,
  needs: readonly (keyof typeof DEBIAN_DOCUMENTS)[],
  body: () => void,
): void {
  const missing = missingDebianDocuments(needs);
  if (missing.length === 0) {
    describe(title, body);
    return;
  }
  const reason = `${missing.join(', ')} not installed`;
  if (process.env.CI !== 'true') {
    describe.skip(`${title} (skipped: ${reason}; ${DEBIAN_INSTALL_HINT}; CI=true fails instead)`, () => {
      it('is skipped', () => undefined);
    });
    return;
  }
  describe(title, () => {
    it('has the Debian documents it reads', () => {
      const error = new Error(`${reason}: this test needs them in CI (CI=true): ${DEBIAN_INSTALL_HINT}`);
      error.stack = error.message;
      throw error;
    });
  });
}
