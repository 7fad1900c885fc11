import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * slack/app-manifest.yaml and the code agree: every event the ack handles is subscribed, every Web API method the
 * functions call has its scope requested, interactivity points at the same Request URL as the events (the ack),
 * and nothing is subscribed or requested that no code uses. The table of scopes is Slack's, per method
 * (docs.slack.dev/reference/methods/<method>, "Scopes", bot token).
 */

const ROOT = resolve(__dirname, '../..');

/** The bot-token scope each method needs; `null` for methods that need none. */
const METHOD_SCOPES: Record<string, string[] | null> = {
  'auth.test': null,
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.delete': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.startStream': ['chat:write'],
  'chat.appendStream': ['chat:write'],
  'chat.stopStream': ['chat:write'],
  'users.info': ['users:read'],
  // History of the conversation types the bot reads threads of: channels and private channels it answers in.
  'conversations.replies': ['channels:history', 'groups:history'],
  // Accepts chat:write since 2026-03 (docs.slack.dev/changelog/2026/03/05/set-status-scope-update).
  'assistant.threads.setStatus': ['chat:write'],
  'assistant.threads.setTitle': ['assistant:write'],
  'assistant.threads.setSuggestedPrompts': ['assistant:write'],
  // A trigger_id from the interaction is the permission.
  'views.open': null,
  // Which user groups the asker is in (COLLECTION_AUDIENCES).
  'usergroups.list': ['usergroups:read'],
  // Slack messages as sources (SLACK_SEARCH): the scope of each conversation type asked for in channel_types
  // (public_channel, private_channel, mpim, im; search:read.files and search:read.users are not needed, only
  // messages are asked for). docs.slack.dev/reference/scopes/search.read.public and its siblings.
  'assistant.search.context': [
    'search:read.public',
    'search:read.private',
    'search:read.mpim',
    'search:read.im',
  ],
};

/** The subscription and the scope each handled event needs. */
const EVENT_SUBSCRIPTIONS: Record<string, Array<{ event: string; scope: string | null }>> = {
  app_mention: [{ event: 'app_mention', scope: 'app_mentions:read' }],
  message: [
    { event: 'message.im', scope: 'im:history' },
    { event: 'message.channels', scope: 'channels:history' },
    { event: 'message.groups', scope: 'groups:history' },
  ],
  assistant_thread_started: [{ event: 'assistant_thread_started', scope: 'assistant:write' }],
  app_home_opened: [{ event: 'app_home_opened', scope: null }],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Manifest {
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity?: { is_enabled: boolean; request_url?: string };
    org_deploy_enabled?: boolean;
  };
  features: { agent_view?: { agent_description?: string; suggested_prompts?: unknown[] } };
}

const manifest = parse(readFileSync(join(ROOT, 'slack/app-manifest.yaml'), 'utf8')) as Manifest;
const functionSources = sourceFiles(join(ROOT, 'functions')).map((path) => readFileSync(path, 'utf8'));
/** The ack's sources: its listeners register the events it handles, one folder per Slack surface. */
const ackSource = sourceFiles(join(ROOT, 'functions/core/ack'))
  .map((path) => readFileSync(path, 'utf8'))
  .join('\n');

/** Every Web API method the functions call through a WebClient (`client.chat.update(`, `slack.users.info(`…). */
function calledMethods(): string[] {
  const methods = new Set<string>();
  const call =
    /\.(auth|chat|users|usergroups|conversations|views|reactions|assistant\.threads)\.([a-zA-Z]+)\s*\(/g;
  for (const source of functionSources) {
    for (const match of source.matchAll(call)) methods.add(`${match[1]}.${match[2]}`);
    // Methods the SDK has no typed call for, called by name.
    for (const match of source.matchAll(/\.apiCall\(\s*'([a-z]+(?:\.[a-zA-Z]+)+)'/g))
      methods.add(match[1] as string);
  }
  return [...methods].sort();
}

function handledEvents(): string[] {
  return [...ackSource.matchAll(/app\.event\('([a-z_]+)'/g)].map((m) => m[1] as string).sort();
}

describe('slack/app-manifest.yaml and the code', () => {
  const scopes = manifest.oauth_config.scopes.bot;
  const events = manifest.settings.event_subscriptions.bot_events;

  it('finds the calls and handlers it checks (the scan itself works)', () => {
    expect(calledMethods()).toEqual(
      expect.arrayContaining(['chat.postMessage', 'chat.update', 'users.info', 'assistant.search.context']),
    );
    expect(handledEvents()).toEqual(expect.arrayContaining(['app_mention', 'message']));
  });

  it('requests the scope of every method the functions call', () => {
    for (const method of calledMethods()) {
      expect({ method, known: method in METHOD_SCOPES }).toEqual({ method, known: true });
      for (const scope of METHOD_SCOPES[method] ?? [])
        expect({ method, scope, requested: scopes.includes(scope) }).toEqual({
          method,
          scope,
          requested: true,
        });
    }
  });

  it('subscribes to every event the ack handles, with its scope', () => {
    for (const handled of handledEvents()) {
      const needed = EVENT_SUBSCRIPTIONS[handled];
      expect({ handled, known: needed !== undefined }).toEqual({ handled, known: true });
      for (const { event, scope } of needed ?? []) {
        expect({ event, subscribed: events.includes(event) }).toEqual({ event, subscribed: true });
        if (scope !== null)
          expect({ event, scope, requested: scopes.includes(scope) }).toEqual({
            event,
            scope,
            requested: true,
          });
      }
    }
  });

  it('subscribes to nothing no handler uses', () => {
    const handled = handledEvents().flatMap((h) => (EVENT_SUBSCRIPTIONS[h] ?? []).map((s) => s.event));
    expect(events.filter((event) => !handled.includes(event))).toEqual([]);
  });

  it('requests no scope that no call or event needs', () => {
    const needed = new Set<string>([
      ...calledMethods().flatMap((m) => METHOD_SCOPES[m] ?? []),
      ...handledEvents().flatMap((h) =>
        (EVENT_SUBSCRIPTIONS[h] ?? []).flatMap((s) => (s.scope ? [s.scope] : [])),
      ),
    ]);
    expect(scopes.filter((scope) => !needed.has(scope))).toEqual([]);
  });

  it('sends interactions (the feedback buttons and the comment modal) to the ack, which handles them', () => {
    expect(manifest.settings.interactivity?.is_enabled).toBe(true);
    expect(manifest.settings.interactivity?.request_url).toBe(
      manifest.settings.event_subscriptions.request_url,
    );
    expect(ackSource).toMatch(/app\.action\(/);
    expect(ackSource).toMatch(/app\.view\(/);
  });

  it('is org-ready in both manifests, as the ack is: an org-wide install on Enterprise Grid is recognised', () => {
    const socket = parse(readFileSync(join(ROOT, 'slack/app-manifest.socket.yaml'), 'utf8')) as Manifest;

    expect(manifest.settings.org_deploy_enabled).toBe(true);
    expect(socket.settings.org_deploy_enabled).toBe(true);
    expect(ackSource).toMatch(/is_enterprise_install/);
  });

  it('declares the agent pane with a description and at most 4 suggested prompts', () => {
    const agent = manifest.features.agent_view;
    expect(agent?.agent_description).toEqual(expect.any(String));
    expect(agent?.suggested_prompts?.length).toBeGreaterThan(0);
    expect(agent?.suggested_prompts?.length).toBeLessThanOrEqual(4);
  });
});
