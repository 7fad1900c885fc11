import { execFileSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { answerSources } from '../../functions/core/chains/answer-sources';
import { loadConfig } from '../../functions/core/config';
import { createEmbeddings, embeddingNameOf } from '../../functions/core/llm/providers';
import { pagesLabel } from '../../functions/core/slack/answer-message';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { openDocumentTable } from '../../functions/core/vector-store/document-table';
import { searchPassages } from '../../functions/core/vector-store/search-passages';
import {
  DEBIAN_DOCUMENTS,
  debianDocumentFile,
  describeWithDebianDocuments,
} from '../support/debian-documents';
import { ingestWorkspace } from '../support/ingest';

/**
 * Documents nobody on this project wrote, indexed through the real ingest state machine (local executor, dynalite,
 * LanceDB on disk, the offline embedder): the Debian Policy Manual as PDF, a Debian Reference chapter as HTML in
 * English and in Japanese, and another chapter as a Word file pandoc made from its HTML. Each question's answer sits
 * in a known section, which must be retrieved first, with the page (PDF) or the document's own title and section
 * path that a source under an answer shows.
 */

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

describeWithDebianDocuments(
  'real documents through the ingest state machine',
  ['policyPdf', 'referenceDir', 'pandoc'],
  () => {
    beforeAll(async () => {
      workspace = await ingestWorkspace();
      const real = join(workspace.root, 'real');
      await mkdir(real, { recursive: true });
      await copyFile(debianDocumentFile(DEBIAN_DOCUMENTS.policyPdf), join(real, 'policy.pdf'));
      await copyFile(join(DEBIAN_DOCUMENTS.referenceDir, 'ch02.en.html'), join(real, 'ch02.en.html'));
      await copyFile(join(DEBIAN_DOCUMENTS.referenceDir, 'ch02.ja.html'), join(real, 'ch02.ja.html'));
      execFileSync(DEBIAN_DOCUMENTS.pandoc, [
        '--quiet',
        join(DEBIAN_DOCUMENTS.referenceDir, 'ch05.en.html'),
        '-o',
        join(real, 'network-setup.docx'),
      ]);
    }, 60_000);

    afterAll(async () => {
      await workspace?.remove();
    });

    it('indexes the PDF, the HTML pages and the Word file, and retrieves each answer from its section', async () => {
      // Arrange
      const ingest = await workspace.start();
      let report: Awaited<ReturnType<typeof ingest.sync>>['report'];
      try {
        // Act
        const result = await ingest.sync({ origins: ['real'], prune: false });
        report = result.report;
        expect(result.status).toBe('committed');
      } finally {
        await ingest.close();
      }

      // Assert: every document indexed, none failed
      expect(report).toMatchObject({ added: 4, failedCount: 0 });

      const config = loadConfig({ LLM_PROVIDER: 'local' });
      const embeddings = createEmbeddings(config.llm);
      const connection = await connectVectorStore(workspace.lancedbUri, { readConsistencySeconds: 0 });
      const handle = await openDocumentTable(connection, {
        table: 'documents',
        embeddings,
        embedderName: embeddingNameOf(embeddings),
        dimensions: (await embeddings.embedQuery('x')).length,
      });
      if (handle === undefined) throw new Error('no table after the sync');
      try {
        const first = async (question: string) => {
          const { passages } = await searchPassages(handle, { queryText: question, k: 5 });
          const [source] = answerSources(passages, 'See [1].');
          return source;
        };

        const pdf = await first(
          'What must the main building script debian/rules be? An executable makefile?',
        );
        expect(pdf).toMatchObject({ source: 'real/policy.pdf', title: 'Debian Policy Manual' });
        expect(pdf?.heading).toMatch(/4\.9 Main building script: debian\/rules/);
        expect(pagesLabel(pdf ?? {})).toMatch(/^, pp?\. 3[3-6]/);

        const html = await first('Which low level package management tool for Debian is file based, dpkg?');
        expect(html?.source).toBe('real/ch02.en.html');
        expect(html?.title).toMatch(/Debian package management/);

        const japanese = await first('aptitude と apt-get の違いは何ですか');
        expect(japanese?.source).toBe('real/ch02.ja.html');
        expect(japanese?.title).toMatch(/Debian パッケージ管理/);

        const word = await first('How is the network interface configured with ifupdown?');
        expect(word?.source).toBe('real/network-setup.docx');
        expect(word?.heading).not.toBe('');
      } finally {
        handle.close();
        connection.close();
      }
    }, 300_000);
  },
);
