import { WebClient } from '@slack/web-api';
import { reachFor } from '../../functions/core/access/reach';
import { createUserGroupDirectory } from '../../functions/core/access/user-groups';
import { startFakeSlack } from '../../stand-ins/slack/fake-slack';
import type { BenchContext } from './context';
import type { Figure, SectionResult } from './report';
import { percentile } from './stats';

/**
 * Section: what a person's reach costs a question before the search (the search's own cost, an allow-list or a
 * deny-list on a 100k-chunk table on S3, is in the retrievalS3 section). The user-group lookup as Load history does
 * it: one `usergroups.list` with its members, from the fake Slack on loopback (Slack's own round trip comes on
 * top), uncached (a new container, or the 2-minute cache expired) and
 * cached (every other question); then working out the reach from the settings. Baseline: a deployment without
 * access settings, which asks Slack nothing and has no reach to work out.
 */
export async function benchAccess(ctx: BenchContext): Promise<SectionResult> {
  const groupCount = ctx.quick ? 50 : 300;
  const membersPerGroup = 40;
  const people = 5_000;
  const groups: Record<string, string[]> = {};
  for (let g = 0; g < groupCount; g++) {
    const id = `S0G${String(g).padStart(6, '0')}`;
    groups[id] = Array.from(
      { length: membersPerGroup },
      (_, m) => `U0P${String((g * 7 + m * 13) % people).padStart(6, '0')}`,
    );
  }
  const audiences = Object.fromEntries(
    Array.from({ length: 20 }, (_, c) => [`collection-${c}`, [`S0G${String(c * 3).padStart(6, '0')}`]]),
  );
  const settings = {
    collectionAudiences: { ...audiences, everyone: ['*'] },
    channelCollections: { '*': [...Object.keys(audiences), 'everyone'] },
  };
  // No rate limits: this measures the lookup, not Slack's Tier 2 budget (20 a minute, which the cache keeps to one
  // call per container every 2 minutes).
  const slack = await startFakeSlack({ usergroups: groups, rateLimits: false });
  const client = new WebClient(slack.token, {
    slackApiUrl: slack.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
  });
  const uncached: number[] = [];
  const cached: number[] = [];
  const reachMs: number[] = [];
  let bytes = 0;
  try {
    const rounds = ctx.quick ? 10 : 40;
    ctx.log(`access: ${rounds} uncached lookups of ${groupCount} groups × ${membersPerGroup} members`);
    for (let i = 0; i < rounds; i++) {
      const directory = createUserGroupDirectory(client, { now: Date.now });
      const started = performance.now();
      await directory.groupsOf(`U0P${String(i).padStart(6, '0')}`);
      uncached.push(performance.now() - started);
      if (i === 0) {
        const response = await fetch(`${slack.apiUrl}usergroups.list`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${slack.token}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'include_users=true',
        });
        bytes = (await response.arrayBuffer()).byteLength;
      }
    }
    const directory = createUserGroupDirectory(client, { now: Date.now });
    await directory.groupsOf('U0P000000');
    for (let i = 0; i < 2_000; i++) {
      const user = `U0P${String(i % people).padStart(6, '0')}`;
      let started = performance.now();
      const memberOf = await directory.groupsOf(user);
      cached.push(performance.now() - started);
      started = performance.now();
      reachFor(settings, { user, channel: 'C0BENCH001' }, memberOf);
      reachMs.push(performance.now() - started);
    }
  } finally {
    await slack.close();
  }
  const figures: Figure[] = [
    {
      name: 'user-group lookup, uncached (one usergroups.list), p50',
      value: percentile(uncached, 50),
      unit: 'ms',
    },
    { name: 'user-group lookup, uncached, p95', value: percentile(uncached, 95), unit: 'ms' },
    { name: 'user-group lookup, cached, p50', value: percentile(cached, 50), unit: 'ms', target: { max: 1 } },
    { name: 'working out the reach from the settings, p50', value: percentile(reachMs, 50), unit: 'ms' },
    { name: 'usergroups.list response with members', value: bytes / 1_000_000, unit: 'MB' },
  ];
  return {
    key: 'access',
    title: "Who may read what: the cost of a person's reach before the search",
    workload: `${groupCount} user groups of ${membersPerGroup} members (${people.toLocaleString('en')} people), 21 collections with audiences; the fake Slack on loopback through @slack/web-api's WebClient, as Load history calls it`,
    baseline: 'a deployment without access settings: no lookup, no reach (0 ms)',
    figures,
    notes: [
      "Load history asks Slack once per warm container every 2 minutes (USER_GROUPS_CACHE_SECONDS); every other question reads the cache. Slack's own round trip over the internet comes on top of the uncached figure, which is the fake's and the client's alone; Load history gives the call 2 s at most, then reads only what is open to everyone.",
      "The search's filter (an allow-list, or a person's deny-list that keeps documents without a collection) is measured on 1k to 100k chunks on S3 in the retrievalS3 section: a person's reach beside the unfiltered question.",
    ],
    details: { uncachedMs: uncached, bytes },
  };
}
