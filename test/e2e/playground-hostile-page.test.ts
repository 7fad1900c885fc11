import { request } from 'node:http';
import { type Playground, startPlayground } from '../../scripts/local/playground/playground-server';
import { DEFAULT_CHANNEL } from '../../scripts/local/stack';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * Issue 18, point 17: while `npm run dev` runs, any web page open in the person's browser can send requests to the
 * playground, the stack's transcript and ask endpoints and the fake Slack on 127.0.0.1, and a page whose name is
 * rebound to 127.0.0.1 (DNS rebinding) can read the answers. The playground signs what it forwards to the Request
 * URL, so a request it accepts is a question (or a "forget this thread" click) in the person's name. Each request
 * here is sent as a hostile page's browser would send it; none is accepted, nothing reaches the fake Slack, while the
 * page's own request (same origin, JSON) still gets its question answered.
 */

interface Sent {
  status: number;
  body: string;
}

/** One HTTP request with exactly these headers (a browser's, Host and Origin included). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const EVIL = 'https://evil.example';

describe('the local servers refuse what another web page sends them', () => {
  let stack: LocalStack;
  let closeStack: () => Promise<void>;
  let playground: Playground;
  let pageOrigin: string;
  let pageHost: string;

  beforeAll(async () => {
    const started = await startTestStack({ indexSamples: false });
    stack = started.stack;
    closeStack = started.close;
    playground = await startPlayground(stack);
    pageOrigin = new URL(playground.url).origin;
    pageHost = new URL(playground.url).host;
  }, 60_000);

  afterAll(async () => {
    await playground?.close();
    await closeStack?.();
  });

  /** What the fake Slack holds, read as `npm run dev` tells a person to read it. */
  async function transcript(): Promise<{ text: string }[]> {
    const response = await send(stack.transcriptUrl);
    expect(response.status).toBe(200);
    return JSON.parse(response.body) as { text: string }[];
  }

  const question = (text: string) =>
    JSON.stringify({ channel: DEFAULT_CHANNEL, text: `@docs-assistant ${text}` });

  it('refuses a cross-origin JSON POST from another site', async () => {
    const sent = await send(`${playground.url}api/messages`, {
      method: 'POST',
      headers: {
        host: pageHost,
        origin: EVIL,
        'content-type': 'application/json',
        'sec-fetch-site': 'cross-site',
      },
      body: question('cross-origin question'),
    });

    expect(sent.status).toBe(403);
    expect(JSON.stringify(await transcript())).not.toContain('cross-origin question');
  });

  it('refuses a "simple" text/plain POST, which a browser sends without preflight', async () => {
    const crossSite = await send(`${playground.url}api/messages`, {
      method: 'POST',
      headers: { host: pageHost, origin: EVIL, 'content-type': 'text/plain;charset=UTF-8' },
      body: question('simple post question'),
    });
    // A button under an answer ("Forget this thread", 👍 / 👎), clicked from the other site.
    const click = await send(`${playground.url}api/actions`, {
      method: 'POST',
      headers: { host: pageHost, origin: EVIL, 'content-type': 'text/plain' },
      body: JSON.stringify({ channel: DEFAULT_CHANNEL, ts: '1', actionId: 'forget_thread', value: '' }),
    });
    // Even with the page's own Origin, only JSON is taken.
    const plain = await send(`${playground.url}api/messages`, {
      method: 'POST',
      headers: { host: pageHost, origin: pageOrigin, 'content-type': 'text/plain' },
      body: question('plain text question'),
    });

    expect(crossSite.status).toBe(403);
    expect(click.status).toBe(403);
    expect(plain.status).toBe(415);
    const held = JSON.stringify(await transcript());
    expect(held).not.toContain('simple post question');
    expect(held).not.toContain('plain text question');
  });

  it('refuses requests under another name (DNS rebinding): no question sent, no conversation read', async () => {
    const rebound = `evil.example:${new URL(playground.url).port}`;
    const post = await send(`${playground.url}api/messages`, {
      method: 'POST',
      headers: { host: rebound, origin: `http://${rebound}`, 'content-type': 'application/json' },
      body: question('rebound question'),
    });
    const state = await send(`${playground.url}api/state`, { headers: { host: rebound } });
    const stackTranscript = await send(stack.transcriptUrl, {
      headers: { host: `evil.example:${new URL(stack.transcriptUrl).port}` },
    });

    expect(post.status).toBe(421);
    expect(state.status).toBe(421);
    expect(state.body).not.toContain('messages');
    expect(stackTranscript.status).toBe(421);
    expect(JSON.stringify(await transcript())).not.toContain('rebound question');
  });

  it('refuses a page posting to the fake Slack’s Web API or the stack’s ask endpoint directly', async () => {
    const form = new URLSearchParams({
      token: 'xoxb-anything',
      channel: DEFAULT_CHANNEL,
      text: 'posted by a page',
    }).toString();
    const slack = await send(`${stack.slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    // An <img> or a link: a GET with no Origin, but the browser says it comes from another site.
    const embedded = await send(`${stack.slack.apiUrl}chat.postMessage?${form}`, {
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
    });
    const ask = await send(new URL('/local/ask', stack.eventsUrl).toString(), {
      method: 'POST',
      headers: { origin: EVIL, 'content-type': 'text/plain' },
      body: JSON.stringify({ text: 'asked by a page' }),
    });

    expect(slack.status).toBe(403);
    expect(embedded.status).toBe(403);
    expect(ask.status).toBe(403);
    const held = JSON.stringify(await transcript());
    expect(held).not.toContain('posted by a page');
    expect(held).not.toContain('asked by a page');
  });

  it('takes the page’s own request (same origin, JSON): the question is posted and answered', async () => {
    const sent = await send(`${playground.url}api/messages`, {
      method: 'POST',
      headers: {
        host: pageHost,
        origin: pageOrigin,
        'content-type': 'application/json',
        'sec-fetch-site': 'same-origin',
      },
      body: question('How do I rotate my VPN key?'),
    });

    expect(sent.status).toBe(200);
    const { ts } = JSON.parse(sent.body) as { ts: string };
    await Promise.all(stack.stepFunctions.executions.map((e) => e.done));
    const thread = stack.slack.threadReplies(DEFAULT_CHANNEL, ts);
    expect(thread[0]?.text).toContain('How do I rotate my VPN key?');
    expect(thread.some((m) => m.bot_id !== undefined)).toBe(true);
  });
});
