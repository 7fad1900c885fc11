import { batchesPerChild, MAX_BATCHES_PER_CHILD } from '../../functions/core/ingest/plan-sync';

/**
 * How a sync's batches are shared among the child executions of the ingest's Distributed Map (ItemBatcher's
 * MaxItemsPerBatch, from Plan): enough children to keep INGEST_CONCURRENCY of them busy, none with a history that
 * could grow towards Step Functions' 25,000 events.
 */
describe('batches per child execution', () => {
  it('gives a small sync one batch per child, so its batches run side by side', () => {
    expect(batchesPerChild(4, 4)).toBe(1);
    expect(batchesPerChild(1, 4)).toBe(1);
    expect(batchesPerChild(0, 4)).toBe(1);
  });

  it('spreads a mid-sized sync evenly over INGEST_CONCURRENCY children', () => {
    expect(batchesPerChild(6, 2)).toBe(3);
    expect(batchesPerChild(40, 4)).toBe(10);
  });

  it('keeps 100,000 documents (4,000 batches of 25) at 20 batches per child: 200 children, each a small history', () => {
    const perChild = batchesPerChild(4_000, 4);
    expect(perChild).toBe(MAX_BATCHES_PER_CHILD);
    expect(Math.ceil(4_000 / perChild)).toBe(200);
    // About eight events per batch, and the sync's at most 1,000 documents run alone about ten each.
    expect(perChild * 8 + 1_000 * 10).toBeLessThan(25_000);
  });
});
