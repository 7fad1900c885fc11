import { loadConfig } from '../../functions/core/config';
import { sourceLinkOf, syncFingerprint } from '../../functions/core/ingest/sync-types';

describe('INGEST_SOURCE_LINKS: public addresses for an origin', () => {
  const links = {
    's3://wiki-export/pages/': 'https://wiki.example.internal/',
    's3://wiki-export/pages/hr/': 'https://people.example.internal/handbook',
  };

  it('links a document under a declared prefix to the base address and its path, encoded', () => {
    // Act
    const page = sourceLinkOf('s3://wiki-export/pages/it/VPN setup.md', links);
    const deeper = sourceLinkOf('s3://wiki-export/pages/hr/leave & holidays.pdf', links);
    const elsewhere = sourceLinkOf('s3://other-bucket/pages/it/vpn.md', links);

    // Assert
    expect(page).toBe('https://wiki.example.internal/it/VPN%20setup.md');
    expect(deeper).toBe('https://people.example.internal/handbook/leave%20%26%20holidays.pdf');
    expect(elsewhere).toBeUndefined();
  });

  it('reads the setting as JSON and refuses an address that is not http(s) or carries credentials', () => {
    // Act
    const config = loadConfig({ INGEST_SOURCE_LINKS: JSON.stringify(links) });

    // Assert
    expect(config.ingest.sourceLinks).toEqual(links);
    expect(() => loadConfig({ INGEST_SOURCE_LINKS: '{"s3://b/":"javascript:alert(1)"}' })).toThrow(
      /http\(s\)/,
    );
    expect(() => loadConfig({ INGEST_SOURCE_LINKS: '{"s3://b/":"https://user:pw@wiki.example/"}' })).toThrow(
      /without credentials/,
    );
    expect(() => loadConfig({ INGEST_SOURCE_LINKS: 'not json' })).toThrow(/must be JSON/);
  });

  it('re-splits documents once when links are declared, and leaves fingerprints alone when none are', () => {
    // Arrange
    const settings = { chunkSize: 1000, chunkOverlap: 150, collection: null };

    // Act
    const before = syncFingerprint(settings);
    const none = syncFingerprint({ ...settings, sourceLinks: {} });
    const declared = syncFingerprint({ ...settings, sourceLinks: links });

    // Assert
    expect(none).toBe(before);
    expect(declared).not.toBe(before);
  });
});
