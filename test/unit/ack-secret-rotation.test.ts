import { createHandler } from '../../functions/ack';
import { loadConfig } from '../../functions/core/config';
import { createRuntime } from '../../functions/core/runtime';
import { signedHeaders } from '../../stand-ins/slack/slack-request';

describe('ack secret rotation', () => {
  it('verifies with the rotated signing secret as soon as the secret reader returns it, without a new container', async () => {
    let signingSecret = 'old-signing-secret';
    const base = createRuntime(
      loadConfig({
        CONVERSATION_TABLE: 't',
        CONVERSATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:0:stateMachine:x',
        LOG_LEVEL: 'silent',
      }),
    );
    const runtime = {
      ...base,
      secrets: {
        read: async (_ref: unknown, variable: string) =>
          variable === 'SLACK_SIGNING_SECRET' ? signingSecret : 'xoxb-test',
      },
    };
    const handler = await createHandler(runtime);
    const body = JSON.stringify({ type: 'url_verification', challenge: 'abc', token: 'x' });
    const call = (secret: string) =>
      handler({
        version: '2.0',
        routeKey: '$default',
        rawPath: '/',
        rawQueryString: '',
        headers: Object.fromEntries(
          Object.entries(signedHeaders(secret, body)).map(([k, v]) => [k.toLowerCase(), v]),
        ),
        requestContext: {},
        body,
        isBase64Encoded: false,
      });

    const before = await call('old-signing-secret');
    signingSecret = 'new-signing-secret';
    const oldAfterRotation = await call('old-signing-secret');
    const newAfterRotation = await call('new-signing-secret');

    expect([before.statusCode, oldAfterRotation.statusCode, newAfterRotation.statusCode]).toEqual([
      200, 401, 200,
    ]);
    expect(JSON.parse(newAfterRotation.body)).toEqual({ challenge: 'abc' });
  });
});
