// The playground page: renders the fake Slack's state (polled from /api/state) as a Slack client would, and sends
// what the person types or clicks to the playground server, which delivers it to the bot as Slack would.
import { emojify, renderMrkdwn } from './mrkdwn.js';

const POLL_MS = 300;
const view = {
  state: undefined,
  stateText: '',
  conversation: 'C0GENERAL01',
  /** Who the person typing is (the chooser, when user groups are configured); the server's local person until chosen. */
  user: '',
  /** The people the chooser lists, as last drawn. */
  peopleText: '',
  /** The open thread: { channel, ts }. */
  thread: undefined,
  /** Feedback given, by `channel ts action_id`: the value clicked. */
  feedback: new Map(),
  /** Rendered message nodes per list, by key: { key, node }. */
  rendered: new Map(),
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function holding(node, child) {
  if (child) node.append(child);
  return node;
}

function names() {
  const ws = view.state?.workspace;
  return ws ? { [ws.botUserId]: ws.botName, [ws.userId]: 'you' } : {};
}

function time(ts) {
  const date = new Date(Number(ts.split('.')[0]) * 1000);
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function isTopLevel(message) {
  return message.thread_ts === undefined || message.thread_ts === message.ts;
}

function conversationOf(id) {
  return view.state?.conversations.find((c) => c.id === id);
}

// Rendering one message -------------------------------------------------------------------------------------

function textOf(object) {
  if (!object) return undefined;
  return object.type === 'plain_text'
    ? document.createTextNode(emojify(object.text ?? ''))
    : renderMrkdwn(object.text, { names: names() });
}

function renderButton(message, element, button, side) {
  const key = `${message.channel} ${message.ts} ${element.action_id}`;
  const node = el(
    'button',
    `block-button${side ? ` feedback-${side}` : ''}`,
    emojify(button.text?.text ?? ''),
  );
  node.type = 'button';
  const label =
    button.accessibility_label ?? (side ? `${side === 'positive' ? 'Good' : 'Bad'} answer` : undefined);
  if (label) node.setAttribute('aria-label', label);
  if (side) node.setAttribute('aria-pressed', String(view.feedback.get(key) === button.value));
  node.addEventListener('click', () => clickButton(message, element, button.value ?? '', key));
  return node;
}

function renderBlock(message, block) {
  switch (block.type) {
    case 'section': {
      const node = el('div', 'block-section');
      const text = textOf(block.text);
      if (text) node.append(text);
      if (Array.isArray(block.fields)) {
        const fields = el('div', 'block-fields');
        for (const field of block.fields) fields.append(holding(el('div', 'block-field'), textOf(field)));
        node.append(fields);
      }
      return node;
    }
    case 'markdown':
      return holding(el('div', 'block-section'), renderMrkdwn(block.text ?? '', { names: names() }));
    case 'header':
      return el('div', 'block-header', emojify(block.text?.text ?? ''));
    case 'divider':
      return el('hr', 'block-divider');
    case 'context': {
      const node = el('div', 'block-context');
      for (const element of block.elements ?? []) {
        if (element.type === 'image') node.append(el('span', 'context-image', element.alt_text ?? ''));
        else node.append(holding(el('span', 'context-element'), textOf(element)));
      }
      return node;
    }
    case 'actions':
    case 'context_actions': {
      const node = el('div', `block-${block.type.replace('_', '-')}`);
      for (const element of block.elements ?? []) {
        if (element.type === 'feedback_buttons') {
          const group = el('span', 'feedback-buttons');
          group.setAttribute('role', 'group');
          group.setAttribute('aria-label', 'Feedback');
          if (element.positive_button)
            group.append(renderButton(message, element, element.positive_button, 'positive'));
          if (element.negative_button)
            group.append(renderButton(message, element, element.negative_button, 'negative'));
          node.append(group);
        } else if (element.type === 'button' || element.type === 'icon_button') {
          node.append(renderButton(message, element, element));
        } else {
          node.append(el('span', 'unsupported', `[${element.type}]`));
        }
      }
      return node;
    }
    case 'rich_text':
      return el('div', 'block-section', message.text);
    default:
      return el('div', 'unsupported', `[a ${block.type} block, which the playground does not draw]`);
  }
}

function renderMessage(message, options) {
  const ws = view.state.workspace;
  const node = el(
    'article',
    `message${message.bot ? ' from-bot' : ''}${message.ephemeral ? ' ephemeral' : ''}`,
  );
  node.dataset.ts = message.ts;
  node.dataset.channel = message.channel;
  const author = message.bot ? ws.botName : message.user === ws.userId ? 'you' : message.user;
  const header = el('div', 'message-header');
  header.append(el('span', 'author', author));
  if (message.bot) header.append(el('span', 'app-badge', 'APP'));
  header.append(el('time', 'time', time(message.ts)));
  if (message.streaming) header.append(el('span', 'streaming', 'streaming…'));
  else if (message.edits > 0) {
    const edited = el('span', 'edited', '(edited)');
    edited.title = `edited ${message.edits} time${message.edits === 1 ? '' : 's'}`;
    header.append(edited);
  }
  node.append(header);
  if (message.ephemeral) node.append(el('div', 'ephemeral-note', 'Only visible to you'));
  if (message.tasks?.length) {
    const tasks = el('ol', 'tasks');
    tasks.setAttribute('aria-label', 'Plan');
    for (const task of message.tasks) {
      const item = el('li', `task task-${task.status}`, task.title);
      item.dataset.status = task.status;
      tasks.append(item);
    }
    node.append(tasks);
  }
  const body = el('div', 'message-body');
  if (Array.isArray(message.blocks) && message.blocks.length > 0) {
    for (const block of message.blocks) body.append(renderBlock(message, block));
  } else {
    body.append(renderMrkdwn(message.text, { names: names() }));
  }
  node.append(body);
  if (message.reactions?.length)
    node.append(el('div', 'reactions', emojify(message.reactions.map((r) => `:${r}:`).join(' '))));
  if (options.replies !== undefined) {
    const footer = el('div', 'message-footer');
    if (options.replies > 0) {
      const open = el(
        'button',
        'replies',
        `${options.replies} ${options.replies === 1 ? 'reply' : 'replies'}`,
      );
      open.type = 'button';
      open.addEventListener('click', () => openThread(message.channel, message.ts));
      footer.append(open);
    } else {
      const reply = el('button', 'reply-in-thread', 'Reply in thread');
      reply.type = 'button';
      reply.addEventListener('click', () => openThread(message.channel, message.ts));
      footer.append(reply);
    }
    node.append(footer);
  }
  return node;
}

/** Puts these messages in this list, rebuilding only the ones that changed; keeps the view at the bottom. */
function renderList(container, items) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  let cache = view.rendered.get(container.id);
  if (!cache) {
    cache = new Map();
    view.rendered.set(container.id, cache);
  }
  const seen = new Set();
  let previous = null;
  for (const { message, options } of items) {
    const id = `${message.channel} ${message.ts}`;
    const feedback = [...view.feedback].filter(([k]) => k.startsWith(`${id} `));
    const key = JSON.stringify([message, options, feedback, view.state.workspace]);
    let entry = cache.get(id);
    if (!entry || entry.key !== key) {
      const node = renderMessage(message, options);
      if (entry) entry.node.replaceWith(node);
      entry = { key, node };
      cache.set(id, entry);
    }
    seen.add(id);
    const expected = previous ? previous.nextSibling : container.firstChild;
    if (expected !== entry.node) container.insertBefore(entry.node, expected);
    previous = entry.node;
  }
  for (const [id, entry] of cache) {
    if (!seen.has(id)) {
      entry.node.remove();
      cache.delete(id);
    }
  }
  if (items.length === 0 && !container.querySelector('.empty')) {
    container.append(el('p', 'empty', 'No messages yet.'));
  } else if (items.length > 0) {
    container.querySelector('.empty')?.remove();
  }
  if (atBottom) container.scrollTop = container.scrollHeight;
}

// Rendering the page ----------------------------------------------------------------------------------------

function allMessages() {
  const ephemerals = view.state.ephemerals.map((m) => ({
    ...m,
    bot: true,
    user: view.state.workspace.botUserId,
    ephemeral: true,
    edits: 0,
  }));
  return [...view.state.messages, ...ephemerals].sort(
    (a, b) => Number(a.ts.replace(/[er].*/, '')) - Number(b.ts.replace(/[er].*/, '')),
  );
}

function renderSidebar() {
  for (const [listId, kind] of [
    ['channels', 'channel'],
    ['dms', 'im'],
  ]) {
    const list = $(listId);
    list.replaceChildren();
    for (const conversation of view.state.conversations.filter((c) => c.kind === kind)) {
      const item = el('li');
      const button = el(
        'button',
        'conversation-link',
        `${kind === 'channel' ? '# ' : ''}${conversation.name}`,
      );
      button.type = 'button';
      if (conversation.id === view.conversation) button.setAttribute('aria-current', 'page');
      button.addEventListener('click', () => openConversation(conversation.id));
      item.append(button);
      list.append(item);
    }
  }
  const deliveries = $('deliveries');
  deliveries.replaceChildren();
  for (const delivery of [...view.state.deliveries].reverse()) {
    const ok = delivery.status >= 200 && delivery.status < 300;
    const item = el(
      'li',
      ok ? 'delivery-ok' : 'delivery-failed',
      `${delivery.kind} → HTTP ${delivery.status || 'unreachable'}`,
    );
    if (delivery.body) item.title = delivery.body;
    deliveries.append(item);
  }
}

/** The chooser of who you are: the local person and every member of a user group, with their groups. */
function renderWho() {
  const people = view.state.workspace.people ?? [];
  const text = JSON.stringify(people);
  $('who-field').hidden = people.length < 2;
  const select = $('who');
  if (text !== view.peopleText) {
    view.peopleText = text;
    select.replaceChildren(
      ...people.map((person) => {
        const option = el(
          'option',
          undefined,
          `${person.id} (${person.workspace ? `workspace ${person.workspace}, ` : ''}${person.groups.length > 0 ? person.groups.join(', ') : 'no user group'})`,
        );
        option.value = person.id;
        return option;
      }),
    );
  }
  select.value = view.state.workspace.userId;
}

function renderConversation() {
  // Someone else chosen in "You are": their own DM in place of the last person's.
  const conversation =
    conversationOf(view.conversation) ??
    (view.conversation.startsWith('D') ? view.state.conversations.find((c) => c.kind === 'im') : undefined) ??
    view.state.conversations[0];
  view.conversation = conversation.id;
  if (conversation.kind === 'channel') view.lastChannel = conversation.id;
  const ws = view.state.workspace;
  $('conversation-title').textContent =
    conversation.kind === 'channel' ? `# ${conversation.name}` : conversation.name;
  $('conversation-hint').textContent =
    conversation.kind === 'channel'
      ? `Mention @${ws.botName} to ask it something`
      : 'Ask anything: a direct message needs no mention';
  const input = $('composer-input');
  const label =
    conversation.kind === 'channel' ? `Message #${conversation.name}` : `Message ${conversation.name}`;
  input.setAttribute('aria-label', label);
  input.placeholder = conversation.kind === 'channel' ? `${label} (@${ws.botName} to ask)` : label;
  const messages = allMessages().filter((m) => m.channel === conversation.id);
  const replies = new Map();
  for (const m of messages) if (!isTopLevel(m)) replies.set(m.thread_ts, (replies.get(m.thread_ts) ?? 0) + 1);
  renderList(
    $('messages'),
    messages
      .filter(isTopLevel)
      .map((message) => ({ message, options: { replies: replies.get(message.ts) ?? 0 } })),
  );
}

/** The thread's status as Slack shows it now (the server asks the fake Slack, which clears it as Slack does). */
function threadStatus(channel, threadTs) {
  return view.state.statuses.find((s) => s.channel === channel && s.thread_ts === threadTs)?.status;
}

function renderThread() {
  const pane = $('thread');
  const thread = view.thread;
  if (!thread || thread.channel !== view.conversation) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  const conversation = conversationOf(thread.channel);
  const where = conversation
    ? conversation.kind === 'channel'
      ? `# ${conversation.name}`
      : conversation.name
    : '';
  // An agent-pane chat shows the title the app gave it (assistant.threads.setTitle).
  const title = view.state.titles[`${thread.channel} ${thread.ts}`];
  $('thread-where').textContent = title ? `${where} · ${title}` : where;
  const messages = allMessages().filter(
    (m) => m.channel === thread.channel && (m.ts === thread.ts || m.thread_ts === thread.ts),
  );
  renderList(
    $('thread-messages'),
    messages.map((message) => ({ message, options: {} })),
  );
  const status = threadStatus(thread.channel, thread.ts);
  const line = $('thread-status');
  line.hidden = status === undefined;
  line.textContent = status === undefined ? '' : `${view.state.workspace.botName} ${emojify(status)}`;
}

/** A modal the bot opened (views.open): drawn once per view, so what the person types survives the polls. */
function renderModal() {
  const root = $('modal-root');
  const modal = view.state.modal;
  if (!modal) {
    root.replaceChildren();
    view.modalId = undefined;
    return;
  }
  if (view.modalId === modal.id) return;
  view.modalId = modal.id;
  const spec = modal.view;
  const dialog = el('form', 'modal');
  dialog.setAttribute('role', 'dialog');
  dialog.setAttribute('aria-modal', 'true');
  dialog.setAttribute('aria-label', spec.title?.text ?? 'Modal');
  dialog.append(el('h2', 'modal-title', emojify(spec.title?.text ?? '')));
  const fields = [];
  for (const block of spec.blocks ?? []) {
    if (block.type !== 'input' || !block.element) {
      dialog.append(renderBlock({ channel: '', ts: modal.id }, block));
      continue;
    }
    const field = el('label', 'modal-field');
    field.append(el('span', 'modal-label', block.label?.text ?? ''));
    const input = el(block.element.multiline ? 'textarea' : 'input', 'modal-input');
    if (block.element.placeholder?.text) input.placeholder = block.element.placeholder.text;
    if (block.element.max_length) input.maxLength = block.element.max_length;
    if (!block.optional) input.required = true;
    field.append(input);
    const error = el('span', 'modal-error');
    error.setAttribute('role', 'alert');
    field.append(error);
    fields.push({
      key: `${block.block_id} ${block.element.action_id}`,
      blockId: block.block_id,
      input,
      error,
    });
    dialog.append(field);
  }
  const buttons = el('div', 'modal-buttons');
  const close = el('button', 'modal-close', spec.close?.text ?? 'Cancel');
  close.type = 'button';
  close.addEventListener('click', async () => {
    root.replaceChildren();
    await fetch(`/api/views/${modal.id}/close`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: view.user }),
    });
  });
  buttons.append(close);
  if (spec.submit) {
    const submit = el('button', 'modal-submit', spec.submit.text ?? 'Submit');
    submit.type = 'submit';
    buttons.append(submit);
  }
  dialog.append(buttons);
  dialog.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(fields.map((f) => [f.key, f.input.value]));
    const response = await fetch(`/api/views/${modal.id}/submit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ values, user: view.user }),
    });
    const body = await response.json();
    for (const f of fields) f.error.textContent = body.errors?.[f.blockId] ?? '';
    if (response.ok && !body.errors && body.delivery?.status === 200) root.replaceChildren();
  });
  const backdrop = el('div', 'modal-backdrop');
  backdrop.append(dialog);
  root.replaceChildren(backdrop);
  fields[0]?.input.focus();
}

/** The agent pane's suggested prompts for a DM (threadTs undefined) or one of its threads, as clickable chips. */
function renderPrompts(container, channel, threadTs) {
  const set = view.state.suggestedPrompts.find((p) => p.channel === channel && p.thread_ts === threadTs);
  const key = JSON.stringify([channel, threadTs, set]);
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  container.replaceChildren();
  container.hidden = !set;
  if (!set) return;
  if (set.title) container.append(el('span', 'prompts-title', emojify(set.title)));
  for (const prompt of set.prompts) {
    const chip = el('button', 'prompt', prompt.title);
    chip.type = 'button';
    chip.addEventListener('click', () =>
      sendText(prompt.message, channel, threadTs, $(threadTs ? 'thread-error' : 'composer-error')),
    );
    container.append(chip);
  }
}

function render() {
  if (!view.state) return;
  renderWho();
  renderSidebar();
  renderConversation();
  renderThread();
  renderModal();
  const conversation = conversationOf(view.conversation);
  $('new-chat').hidden = conversation?.kind !== 'im';
  renderPrompts($('prompts'), view.conversation, undefined);
  if (view.thread) renderPrompts($('thread-prompts'), view.thread.channel, view.thread.ts);
}

function openThread(channel, ts) {
  view.thread = { channel, ts };
  render();
  $('thread-input').focus();
}

// Talking to the server -------------------------------------------------------------------------------------

/** Fetches the fake Slack's state and redraws what changed. */
async function refresh() {
  const asked = view.user;
  const response = await fetch(`/api/state?user=${encodeURIComponent(asked)}`, { cache: 'no-store' });
  const text = await response.text();
  // A state asked for before the person chose someone else is not theirs.
  if (response.ok && text !== view.stateText && asked === view.user) {
    view.stateText = text;
    view.state = JSON.parse(text);
    render();
  }
}

async function poll() {
  try {
    await refresh();
  } catch {
    // The dev server restarting: the next poll tries again.
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

/** Posts what the person wrote; says so under the composer when the bot's Request URL refused a delivery. */
async function sendText(text, channel, threadTs, error) {
  error.hidden = true;
  try {
    const response = await fetch('/api/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, text, threadTs, user: view.user }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    const refused = body.deliveries.find((delivery) => delivery.status !== 200);
    if (refused) {
      throw new Error(
        `The bot's Request URL answered HTTP ${refused.status || 'nothing'} to the ${refused.kind} event`,
      );
    }
    return true;
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
    return false;
  }
}

async function send(form, input, error, threadTs) {
  const text = input.value.trim();
  if (text === '') return;
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const channel = view.conversation;
    input.value = '';
    if (!(await sendText(text, channel, threadTs, error)) && input.value === '') input.value = text;
  } finally {
    button.disabled = false;
  }
}

/** Opening the DM with the app is opening its Messages tab: Slack tells the app (app_home_opened). */
function openConversation(id) {
  view.conversation = id;
  view.thread = undefined;
  render();
  if (conversationOf(id)?.kind === 'im') {
    fetch('/api/app-home-opened', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: id, user: view.user }),
    }).catch(() => {});
  }
}

/** A new chat in the agent pane: a thread of its own in the DM, opened in the side pane. */
async function newChat() {
  const channel = view.conversation;
  const response = await fetch('/api/assistant-threads', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, contextChannel: view.lastChannel, user: view.user }),
  });
  const body = await response.json();
  if (!response.ok) return;
  view.thread = { channel, ts: body.threadTs };
  await refresh();
  $('thread-input').focus();
}

async function clickButton(message, element, value, key) {
  const previous = view.feedback.get(key);
  if (element.type === 'feedback_buttons') view.feedback.set(key, value);
  render();
  try {
    const response = await fetch('/api/actions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: message.channel,
        ts: message.ts,
        actionId: element.action_id,
        value,
        user: view.user,
      }),
    });
    const body = await response.json();
    if (!response.ok || body.delivery.status !== 200) throw new Error('not delivered');
  } catch {
    if (previous === undefined) view.feedback.delete(key);
    else view.feedback.set(key, previous);
    render();
  }
}

function wireComposer(formId, inputId, errorId, threadTs) {
  const form = $(formId);
  const input = $(inputId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send(form, input, $(errorId), threadTs());
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

wireComposer('composer', 'composer-input', 'composer-error', () => undefined);
wireComposer('thread-composer', 'thread-input', 'thread-error', () => view.thread?.ts);
$('new-chat').addEventListener('click', () => newChat());
$('who').addEventListener('change', (event) => {
  view.user = event.target.value;
  view.stateText = '';
  // A thread in the last person's DM is theirs.
  if (view.thread?.channel.startsWith('D')) view.thread = undefined;
  refresh().catch(() => {});
});
$('close-thread').addEventListener('click', () => {
  view.thread = undefined;
  render();
});
poll();
