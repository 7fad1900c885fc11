import {
  assistantThreadStarted,
  blockActionsPayload,
  eventsForMessage,
  modalStateValues,
  viewSubmissionPayload,
} from '../../scripts/local/playground/slack-events';
import mentionFixture from '../../stand-ins/slack/fixtures/app-mention.json';
import assistantThreadFixture from '../../stand-ins/slack/fixtures/assistant-thread-started.json';
import blockActionsFixture from '../../stand-ins/slack/fixtures/block-actions-feedback.json';
import dmFixture from '../../stand-ins/slack/fixtures/message-im.json';
import threadReplyFixture from '../../stand-ins/slack/fixtures/message-thread-reply.json';
import viewSubmissionFixture from '../../stand-ins/slack/fixtures/view-submission-comment.json';

/**
 * What the playground sends is what Slack sends: every delivery has the fields of the payload captured from Slack
 * (stand-ins/slack/fixtures/), no fewer and no more, filled for the message, button or modal at hand.
 */

const workspace = { teamId: 'T0LOCAL001', appId: 'A0LOCAL001', botUserId: 'U0LOCALBOT', botId: 'B0LOCALBOT' };

function keys(value: unknown): string[] {
  return Object.keys(value as object).sort();
}

describe('the deliveries the playground sends', () => {
  it('delivers a channel message that mentions the bot as app_mention and as message, like Slack', () => {
    const text = 'hey <@U0LOCALBOT> how do I rotate the VPN key? &lt;now&gt;';

    const [mention, message, extra] = eventsForMessage(workspace, {
      channel: 'C0GENERAL01',
      ts: '1700000000.000100',
      text,
      user: 'U0HUMAN001',
    });

    expect(extra).toBeUndefined();
    expect(keys(mention)).toEqual(keys(mentionFixture));
    expect(keys(mention?.event)).toEqual(keys(mentionFixture.event));
    expect(mention?.event).toMatchObject({
      type: 'app_mention',
      text,
      channel: 'C0GENERAL01',
      user: 'U0HUMAN001',
    });
    expect(message?.event).toMatchObject({ type: 'message', channel_type: 'channel', text });
    expect(keys(message?.event)).toEqual(
      keys(threadReplyFixture.event).filter((k) => k !== 'thread_ts' && k !== 'parent_user_id'),
    );
    // The rich_text block Slack's client attaches: the mention as a user element, the text unescaped.
    expect(mention?.event.blocks).toEqual([
      expect.objectContaining({
        type: 'rich_text',
        elements: [
          {
            type: 'rich_text_section',
            elements: [
              { type: 'text', text: 'hey ' },
              { type: 'user', user_id: 'U0LOCALBOT' },
              { type: 'text', text: ' how do I rotate the VPN key? <now>' },
            ],
          },
        ],
      }),
    ]);
    expect(message?.event.client_msg_id).toBe(mention?.event.client_msg_id);
    expect(message?.event_id).not.toBe(mention?.event_id);
  });

  it('delivers a DM as a message event with channel_type im, shaped like message-im.json', () => {
    const [dm, extra] = eventsForMessage(workspace, {
      channel: 'D0LOCALDM01',
      ts: '1700000100.000200',
      text: 'When must expenses be submitted? <@U0LOCALBOT>',
      user: 'U0HUMAN001',
    });

    expect(extra).toBeUndefined();
    expect(keys(dm)).toEqual(keys(dmFixture));
    expect(keys(dm?.event)).toEqual(keys(dmFixture.event));
    expect(dm?.event).toMatchObject({ type: 'message', channel_type: 'im', channel: 'D0LOCALDM01' });
  });

  it('delivers a thread reply without a mention as a message event with thread_ts and parent_user_id', () => {
    const [reply, extra] = eventsForMessage(workspace, {
      channel: 'C0GENERAL01',
      ts: '1700000200.000300',
      text: 'and how often should I do that?',
      user: 'U0HUMAN001',
      threadTs: '1700000000.000100',
      parentUserId: 'U0SOMEONE1',
    });

    expect(extra).toBeUndefined();
    expect(keys(reply?.event)).toEqual(keys(threadReplyFixture.event));
    expect(reply?.event).toMatchObject({
      type: 'message',
      channel_type: 'channel',
      thread_ts: '1700000000.000100',
      parent_user_id: 'U0SOMEONE1',
    });
  });

  it('delivers a click as block_actions with the clicked button, shaped like block-actions-feedback.json', () => {
    const blocks = [{ type: 'context_actions', block_id: 'fb', elements: [] }];

    const click = blockActionsPayload(workspace, {
      user: 'U0HUMAN001',
      channelName: 'general',
      message: {
        channel: 'C0GENERAL01',
        ts: '1700000001.000200',
        threadTs: '1700000000.000100',
        text: 'the answer',
        blocks,
        user: 'U0LOCALBOT',
        botId: 'B0LOCALBOT',
      },
      button: {
        type: 'feedback_buttons',
        actionId: 'answer_feedback',
        blockId: 'fb',
        value: 'v|negative',
        label: '👎',
      },
      responseUrl: 'http://127.0.0.1:1/api/response-url/C0GENERAL01/1700000001.000200',
    });

    expect(keys(click)).toEqual(keys(blockActionsFixture));
    expect(keys(click.container)).toEqual(keys(blockActionsFixture.container));
    expect(keys(click.message)).toEqual(keys(blockActionsFixture.message));
    expect(keys(click.actions[0])).toEqual(keys(blockActionsFixture.actions[0]));
    expect(click.actions[0]).toMatchObject({
      type: 'feedback_buttons',
      action_id: 'answer_feedback',
      block_id: 'fb',
      value: 'v|negative',
      text: { type: 'plain_text', text: '👎' },
    });
    expect(click.container).toMatchObject({
      message_ts: '1700000001.000200',
      thread_ts: '1700000000.000100',
    });
    expect(click.message.blocks).toEqual(blocks);
  });

  it('delivers a submitted modal as view_submission with what was typed, shaped like view-submission-comment.json', () => {
    const opened = {
      type: 'modal',
      callback_id: 'answer_feedback_comment',
      private_metadata: '{"turn":1}',
      title: { type: 'plain_text', text: 'What went wrong?' },
      submit: { type: 'plain_text', text: 'Send' },
      close: { type: 'plain_text', text: 'Skip' },
      blocks: [
        {
          type: 'input',
          block_id: 'comment',
          label: { type: 'plain_text', text: 'Comment' },
          element: { type: 'plain_text_input', action_id: 'text' },
        },
        {
          type: 'input',
          block_id: 'other',
          optional: true,
          label: { type: 'plain_text', text: 'Other' },
          element: { type: 'plain_text_input', action_id: 'more' },
        },
      ],
    };

    const submitted = viewSubmissionPayload(workspace, {
      user: 'U0HUMAN001',
      viewId: 'V00000001',
      view: opened,
      values: modalStateValues(opened, { 'comment text': 'The limit changed in April.' }),
    });

    expect(keys(submitted)).toEqual(keys(viewSubmissionFixture));
    expect(keys(submitted.view)).toEqual(keys(viewSubmissionFixture.view));
    expect(submitted.view).toMatchObject({
      id: 'V00000001',
      callback_id: 'answer_feedback_comment',
      private_metadata: '{"turn":1}',
      state: {
        values: {
          comment: { text: { type: 'plain_text_input', value: 'The limit changed in April.' } },
          other: { more: { type: 'plain_text_input', value: null } },
        },
      },
    });
  });

  it('delivers a new chat in the agent pane as assistant_thread_started, shaped like its fixture', () => {
    const started = assistantThreadStarted(workspace, {
      channel: 'D0LOCALDM01',
      threadTs: '1700000300.000400',
      user: 'U0HUMAN001',
      contextChannel: 'C0GENERAL01',
    });

    expect(keys(started)).toEqual(keys(assistantThreadFixture));
    expect(keys(started.event)).toEqual(keys(assistantThreadFixture.event));
    expect(started.event.assistant_thread).toEqual({
      user_id: 'U0HUMAN001',
      context: { channel_id: 'C0GENERAL01', team_id: 'T0LOCAL001', enterprise_id: null },
      channel_id: 'D0LOCALDM01',
      thread_ts: '1700000300.000400',
    });
  });
});
