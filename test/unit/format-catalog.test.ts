import { DOCUMENT_CATALOG, isDocumentName } from '../../functions/core/ingest/formats/catalog';
import { DOCUMENT_FORMATS, formatOf } from '../../functions/core/ingest/formats/index';

describe('the document formats', () => {
  it('lists in the catalog exactly the formats there is a reader for, so a folder lists what ingest can read', () => {
    // Act
    const catalog = DOCUMENT_CATALOG.map((entry) => [entry.name, [...entry.extensions]]);
    const readers = DOCUMENT_FORMATS.map((format) => [format.name, [...format.extensions]]);

    // Assert
    expect(catalog).toEqual(readers);
  });

  it.each([
    ['handbook/Policy.PDF', undefined, 'PDF'],
    ['s3://wiki/exports/plan.docx', undefined, 'Word'],
    ['https://docs.example.internal/guide/install/', 'text/html; charset=Shift_JIS', 'HTML'],
    ['https://docs.example.internal/notes.md?version=2#setup', 'text/plain', 'Markdown'],
    ['https://docs.example.internal/download', 'application/pdf', 'PDF'],
  ])('reads %s (served as %s) as %s', (source, contentType, name) => {
    // Act
    const format = formatOf(source, contentType);

    // Assert
    expect(format?.name).toBe(name);
  });

  it('lists slides and images as not documents, and reads no extensionless file without a media type', () => {
    // Assert
    expect(isDocumentName('deck.pptx')).toBe(false);
    expect(isDocumentName('team.png')).toBe(false);
    expect(isDocumentName('manual.pdf')).toBe(true);
    expect(formatOf('notes/README')).toBeUndefined();
  });
});
