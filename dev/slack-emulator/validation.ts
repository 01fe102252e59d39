/**
 * Block Kit validation with the limits Slack enforces. Errors are reported the way Slack reports
 * them in `response_metadata.messages`: `[ERROR] <what is wrong> [json-pointer:<where>]`.
 *
 * Limits (docs.slack.dev Block Kit reference): 50 blocks per message, 100 per modal or Home tab;
 * section text 3000 and each field 2000; header text 150 (plain_text only); button text 75;
 * action_id and block_id 255; input label and hint 2000 (plain_text); modal title, submit and
 * close 24 (plain_text); private_metadata 3000; option text 75 and value 150.
 */

export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  messageText: 40_000,
  attachments: 100,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  actionId: 255,
  blockId: 255,
  callbackId: 255,
  externalId: 255,
  privateMetadata: 3000,
  inputLabel: 2000,
  inputHint: 2000,
  modalTitle: 24,
  modalButton: 24,
  contextElements: 10,
  actionsElements: 25,
  placeholder: 150,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
  selectOptions: 100,
  overflowOptions: 5,
  choiceOptions: 10,
  imageAltText: 2000,
  imageTitle: 2000,
  markdownText: 12_000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  textInputLength: 3000,
} as const;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Length in characters (code points), as a user would count them. */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

class Collector {
  readonly errors: string[] = [];
  add(message: string, pointer: string): void {
    this.errors.push(`[ERROR] ${message} [json-pointer:${pointer}]`);
  }
}

type TextKind = 'plain_text' | 'mrkdwn' | 'any';

interface TextRule {
  kind: TextKind;
  max: number;
  required?: boolean;
  field: string;
}

function checkString(c: Collector, v: unknown, ptr: string, max: number, { min = 0 }: { min?: number } = {}): boolean {
  if (typeof v !== 'string') {
    c.add('must be a string', ptr);
    return false;
  }
  const len = charLength(v);
  if (len < min) c.add(`must be more than ${min - 1} characters`, ptr);
  if (len > max) c.add(`must be less than ${max + 1} characters`, ptr);
  return true;
}

function optionalString(c: Collector, parent: Obj, key: string, ptr: string, max: number): void {
  if (parent[key] === undefined) return;
  checkString(c, parent[key], `${ptr}/${key}`, max);
}

function optionalBoolean(c: Collector, parent: Obj, key: string, ptr: string): void {
  if (parent[key] !== undefined && typeof parent[key] !== 'boolean') c.add('must be a boolean', `${ptr}/${key}`);
}

function textObject(c: Collector, parent: Obj, ptr: string, rule: TextRule): void {
  const v = parent[rule.field];
  const p = `${ptr}/${rule.field}`;
  if (v === undefined) {
    if (rule.required !== false) c.add(`missing required field: ${rule.field}`, ptr);
    return;
  }
  checkTextValue(c, v, p, rule.kind, rule.max);
}

function checkTextValue(c: Collector, v: unknown, p: string, kind: TextKind, max: number): void {
  if (!isObj(v)) {
    c.add('must provide an object', p);
    return;
  }
  if (v.type !== 'plain_text' && v.type !== 'mrkdwn') {
    c.add('must be a valid enum value (plain_text or mrkdwn)', `${p}/type`);
  } else if (kind !== 'any' && v.type !== kind) {
    c.add(`must be a valid enum value: only ${kind} is allowed here, got ${v.type}`, `${p}/type`);
  }
  if (v.text === undefined) {
    c.add('missing required field: text', p);
  } else {
    checkString(c, v.text, `${p}/text`, max, { min: 1 });
  }
  if (v.emoji !== undefined && v.type === 'mrkdwn') c.add('emoji is only allowed on plain_text', `${p}/emoji`);
  if (v.verbatim !== undefined && v.type === 'plain_text') c.add('verbatim is only allowed on mrkdwn', `${p}/verbatim`);
}

function array(c: Collector, parent: Obj, key: string, ptr: string, { min, max, required }: { min: number; max: number; required: boolean }): unknown[] | undefined {
  const v = parent[key];
  if (v === undefined) {
    if (required) c.add(`missing required field: ${key}`, ptr);
    return undefined;
  }
  if (!Array.isArray(v)) {
    c.add('must provide an array', `${ptr}/${key}`);
    return undefined;
  }
  if (v.length < min) c.add(`must provide at least ${min} item${min === 1 ? '' : 's'}`, `${ptr}/${key}`);
  if (v.length > max) c.add(`no more than ${max} items allowed`, `${ptr}/${key}`);
  return v;
}

function confirmObject(c: Collector, el: Obj, ptr: string): void {
  if (el.confirm === undefined) return;
  const p = `${ptr}/confirm`;
  if (!isObj(el.confirm)) {
    c.add('must provide an object', p);
    return;
  }
  textObject(c, el.confirm, p, { field: 'title', kind: 'plain_text', max: LIMITS.confirmTitle });
  textObject(c, el.confirm, p, { field: 'text', kind: 'any', max: LIMITS.confirmText });
  textObject(c, el.confirm, p, { field: 'confirm', kind: 'plain_text', max: LIMITS.confirmButton });
  textObject(c, el.confirm, p, { field: 'deny', kind: 'plain_text', max: LIMITS.confirmButton });
  if (el.confirm.style !== undefined && el.confirm.style !== 'primary' && el.confirm.style !== 'danger') {
    c.add('must be a valid enum value (primary or danger)', `${p}/style`);
  }
}

function optionObject(c: Collector, v: unknown, ptr: string, textKind: TextKind, withUrl: boolean): void {
  if (!isObj(v)) {
    c.add('must provide an object', ptr);
    return;
  }
  textObject(c, v, ptr, { field: 'text', kind: textKind, max: LIMITS.optionText });
  if (v.value === undefined) c.add('missing required field: value', ptr);
  else checkString(c, v.value, `${ptr}/value`, LIMITS.optionValue, { min: 1 });
  textObject(c, v, ptr, { field: 'description', kind: textKind, max: LIMITS.optionDescription, required: false });
  if (withUrl) optionalString(c, v, 'url', ptr, LIMITS.url);
  else if (v.url !== undefined) c.add('url is only allowed on overflow menu options', `${ptr}/url`);
}

function options(c: Collector, el: Obj, ptr: string, { min, max, textKind, withUrl, required }: { min: number; max: number; textKind: TextKind; withUrl: boolean; required: boolean }): void {
  const list = array(c, el, 'options', ptr, { min, max, required });
  list?.forEach((o, i) => optionObject(c, o, `${ptr}/options/${i}`, textKind, withUrl));
}

function staticSelectOptions(c: Collector, el: Obj, ptr: string): void {
  if (el.options !== undefined && el.option_groups !== undefined) {
    c.add('must provide either options or option_groups, not both', ptr);
  }
  if (el.option_groups !== undefined) {
    const groups = array(c, el, 'option_groups', ptr, { min: 1, max: LIMITS.selectOptions, required: true });
    groups?.forEach((g, i) => {
      const gp = `${ptr}/option_groups/${i}`;
      if (!isObj(g)) {
        c.add('must provide an object', gp);
        return;
      }
      textObject(c, g, gp, { field: 'label', kind: 'plain_text', max: LIMITS.optionText });
      options(c, g, gp, { min: 1, max: LIMITS.selectOptions, textKind: 'plain_text', withUrl: false, required: true });
    });
  } else {
    options(c, el, ptr, { min: 1, max: LIMITS.selectOptions, textKind: 'plain_text', withUrl: false, required: true });
  }
}

type ElementRule = (c: Collector, el: Obj, ptr: string) => void;

const placeholder: ElementRule = (c, el, ptr) =>
  textObject(c, el, ptr, { field: 'placeholder', kind: 'plain_text', max: LIMITS.placeholder, required: false });

const dynamicSelect: ElementRule = (c, el, ptr) => {
  placeholder(c, el, ptr);
  confirmObject(c, el, ptr);
};

const ELEMENTS: Record<string, ElementRule> = {
  button(c, el, ptr) {
    textObject(c, el, ptr, { field: 'text', kind: 'plain_text', max: LIMITS.buttonText });
    optionalString(c, el, 'value', ptr, LIMITS.buttonValue);
    optionalString(c, el, 'url', ptr, LIMITS.url);
    optionalString(c, el, 'accessibility_label', ptr, LIMITS.buttonText);
    if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
      c.add('must be a valid enum value (primary or danger)', `${ptr}/style`);
    }
    confirmObject(c, el, ptr);
  },
  static_select(c, el, ptr) {
    placeholder(c, el, ptr);
    staticSelectOptions(c, el, ptr);
    confirmObject(c, el, ptr);
  },
  multi_static_select(c, el, ptr) {
    placeholder(c, el, ptr);
    staticSelectOptions(c, el, ptr);
    confirmObject(c, el, ptr);
    if (el.max_selected_items !== undefined && (typeof el.max_selected_items !== 'number' || el.max_selected_items < 1)) {
      c.add('must be a number greater than 0', `${ptr}/max_selected_items`);
    }
  },
  external_select: dynamicSelect,
  multi_external_select: dynamicSelect,
  users_select: dynamicSelect,
  multi_users_select: dynamicSelect,
  conversations_select: dynamicSelect,
  multi_conversations_select: dynamicSelect,
  channels_select: dynamicSelect,
  multi_channels_select: dynamicSelect,
  overflow(c, el, ptr) {
    options(c, el, ptr, { min: 1, max: LIMITS.overflowOptions, textKind: 'plain_text', withUrl: true, required: true });
    confirmObject(c, el, ptr);
  },
  checkboxes(c, el, ptr) {
    options(c, el, ptr, { min: 1, max: LIMITS.choiceOptions, textKind: 'any', withUrl: false, required: true });
    confirmObject(c, el, ptr);
  },
  radio_buttons(c, el, ptr) {
    options(c, el, ptr, { min: 1, max: LIMITS.choiceOptions, textKind: 'any', withUrl: false, required: true });
    confirmObject(c, el, ptr);
  },
  datepicker(c, el, ptr) {
    placeholder(c, el, ptr);
    if (el.initial_date !== undefined && (typeof el.initial_date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(el.initial_date))) {
      c.add('must be a date in the format YYYY-MM-DD', `${ptr}/initial_date`);
    }
    confirmObject(c, el, ptr);
  },
  timepicker(c, el, ptr) {
    placeholder(c, el, ptr);
    if (el.initial_time !== undefined && (typeof el.initial_time !== 'string' || !/^\d{2}:\d{2}$/.test(el.initial_time))) {
      c.add('must be a time in the format HH:mm', `${ptr}/initial_time`);
    }
    confirmObject(c, el, ptr);
  },
  datetimepicker(c, el, ptr) {
    if (el.initial_date_time !== undefined && !Number.isInteger(el.initial_date_time)) {
      c.add('must be an integer (UNIX seconds)', `${ptr}/initial_date_time`);
    }
    confirmObject(c, el, ptr);
  },
  plain_text_input(c, el, ptr) {
    placeholder(c, el, ptr);
    optionalString(c, el, 'initial_value', ptr, LIMITS.textInputLength);
    optionalBoolean(c, el, 'multiline', ptr);
    for (const k of ['min_length', 'max_length'] as const) {
      const v = el[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > LIMITS.textInputLength) {
        c.add(`must be an integer between 0 and ${LIMITS.textInputLength}`, `${ptr}/${k}`);
      }
    }
  },
  email_text_input: placeholder,
  url_text_input: placeholder,
  rich_text_input: placeholder,
  number_input(c, el, ptr) {
    placeholder(c, el, ptr);
    if (typeof el.is_decimal_allowed !== 'boolean') c.add('missing required field: is_decimal_allowed', ptr);
  },
  file_input() {},
  image(c, el, ptr) {
    if (el.image_url === undefined && el.slack_file === undefined) c.add('must provide either image_url or slack_file', ptr);
    if (el.image_url !== undefined) checkString(c, el.image_url, `${ptr}/image_url`, LIMITS.url, { min: 1 });
    if (el.alt_text === undefined) c.add('missing required field: alt_text', ptr);
    else checkString(c, el.alt_text, `${ptr}/alt_text`, LIMITS.imageAltText, { min: 1 });
  },
  workflow_button(c, el, ptr) {
    textObject(c, el, ptr, { field: 'text', kind: 'plain_text', max: LIMITS.buttonText });
    if (!isObj(el.workflow)) c.add('missing required field: workflow', ptr);
  },
};

const SELECTS = [
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
];
const SECTION_ACCESSORIES = new Set([
  'button',
  'checkboxes',
  'datepicker',
  'image',
  'overflow',
  'radio_buttons',
  'timepicker',
  'workflow_button',
  ...SELECTS,
]);
const ACTIONS_ELEMENTS = new Set([
  'button',
  'checkboxes',
  'datepicker',
  'datetimepicker',
  'overflow',
  'radio_buttons',
  'timepicker',
  'workflow_button',
  'rich_text_input',
  ...SELECTS,
]);
const INPUT_ELEMENTS = new Set([
  'plain_text_input',
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'email_text_input',
  'url_text_input',
  'number_input',
  'file_input',
  'rich_text_input',
  ...SELECTS,
]);

/** Validates an element; returns its action_id when it has one. */
function element(c: Collector, v: unknown, ptr: string, allowed: Set<string>, where: string): string | undefined {
  if (!isObj(v)) {
    c.add('must provide an object', ptr);
    return undefined;
  }
  if (typeof v.type !== 'string') {
    c.add('missing required field: type', ptr);
    return undefined;
  }
  const rule = ELEMENTS[v.type];
  if (!rule) {
    c.add(`unsupported element type: ${v.type}`, `${ptr}/type`);
    return undefined;
  }
  if (!allowed.has(v.type)) {
    c.add(`element type ${v.type} is not allowed in ${where}`, `${ptr}/type`);
    return undefined;
  }
  rule(c, v, ptr);
  if (v.type === 'image') return undefined;
  if (v.action_id !== undefined) {
    if (checkString(c, v.action_id, `${ptr}/action_id`, LIMITS.actionId, { min: 1 })) return v.action_id as string;
  }
  return undefined;
}

type BlockRule = (c: Collector, b: Obj, ptr: string) => void;

const BLOCKS: Record<string, BlockRule> = {
  section(c, b, ptr) {
    if (b.text === undefined && b.fields === undefined) c.add('must provide either text or fields', ptr);
    textObject(c, b, ptr, { field: 'text', kind: 'any', max: LIMITS.sectionText, required: false });
    const fields = array(c, b, 'fields', ptr, { min: 1, max: LIMITS.sectionFields, required: false });
    fields?.forEach((f, i) => checkTextValue(c, f, `${ptr}/fields/${i}`, 'any', LIMITS.sectionFieldText));
    if (b.accessory !== undefined) element(c, b.accessory, `${ptr}/accessory`, SECTION_ACCESSORIES, 'a section accessory');
    optionalBoolean(c, b, 'expand', ptr);
  },
  header(c, b, ptr) {
    textObject(c, b, ptr, { field: 'text', kind: 'plain_text', max: LIMITS.headerText });
  },
  divider() {},
  context(c, b, ptr) {
    const els = array(c, b, 'elements', ptr, { min: 1, max: LIMITS.contextElements, required: true });
    els?.forEach((e, i) => {
      const p = `${ptr}/elements/${i}`;
      if (isObj(e) && e.type === 'image') element(c, e, p, new Set(['image']), 'a context block');
      else checkTextValue(c, e, p, 'any', LIMITS.sectionText);
    });
  },
  actions(c, b, ptr) {
    const els = array(c, b, 'elements', ptr, { min: 1, max: LIMITS.actionsElements, required: true });
    const seen = new Set<string>();
    els?.forEach((e, i) => {
      const id = element(c, e, `${ptr}/elements/${i}`, ACTIONS_ELEMENTS, 'an actions block');
      if (id !== undefined) {
        if (seen.has(id)) c.add(`action_id ${id} must be unique within the block`, `${ptr}/elements/${i}/action_id`);
        seen.add(id);
      }
    });
  },
  input(c, b, ptr) {
    textObject(c, b, ptr, { field: 'label', kind: 'plain_text', max: LIMITS.inputLabel });
    if (b.element === undefined) c.add('missing required field: element', ptr);
    else element(c, b.element, `${ptr}/element`, INPUT_ELEMENTS, 'an input block');
    textObject(c, b, ptr, { field: 'hint', kind: 'plain_text', max: LIMITS.inputHint, required: false });
    optionalBoolean(c, b, 'optional', ptr);
    optionalBoolean(c, b, 'dispatch_action', ptr);
  },
  image(c, b, ptr) {
    if (b.image_url === undefined && b.slack_file === undefined) c.add('must provide either image_url or slack_file', ptr);
    if (b.image_url !== undefined) checkString(c, b.image_url, `${ptr}/image_url`, LIMITS.url, { min: 1 });
    if (b.alt_text === undefined) c.add('missing required field: alt_text', ptr);
    else checkString(c, b.alt_text, `${ptr}/alt_text`, LIMITS.imageAltText, { min: 1 });
    textObject(c, b, ptr, { field: 'title', kind: 'plain_text', max: LIMITS.imageTitle, required: false });
  },
  rich_text(c, b, ptr) {
    array(c, b, 'elements', ptr, { min: 1, max: Number.MAX_SAFE_INTEGER, required: true });
  },
  markdown(c, b, ptr) {
    if (b.text === undefined) c.add('missing required field: text', ptr);
    else checkString(c, b.text, `${ptr}/text`, LIMITS.markdownText, { min: 1 });
  },
  file(c, b, ptr) {
    if (typeof b.external_id !== 'string') c.add('missing required field: external_id', ptr);
    if (b.source !== 'remote') c.add('must be a valid enum value (remote)', `${ptr}/source`);
  },
  video(c, b, ptr) {
    for (const k of ['alt_text', 'thumbnail_url', 'video_url']) {
      if (typeof b[k] !== 'string') c.add(`missing required field: ${k}`, ptr);
    }
    textObject(c, b, ptr, { field: 'title', kind: 'plain_text', max: 200 });
  },
  // Accepted as sent (no deeper checks here).
  table() {},
  call() {},
  context_actions() {},
};

/** Which block types may appear on which surface. */
const SURFACE_BLOCKS: Record<Surface, Set<string>> = {
  message: new Set(['section', 'header', 'divider', 'context', 'actions', 'input', 'image', 'rich_text', 'markdown', 'file', 'video', 'table', 'call', 'context_actions']),
  modal: new Set(['section', 'header', 'divider', 'context', 'actions', 'input', 'image', 'rich_text', 'video']),
  home: new Set(['section', 'header', 'divider', 'context', 'actions', 'input', 'image', 'rich_text', 'video']),
};

export type Surface = 'message' | 'modal' | 'home';

/**
 * Validates an array of blocks for a surface. `pointer` is where the array sits in the request
 * (`/blocks` for messages, `/view/blocks` for views). Returns Slack-style error messages (empty
 * when valid).
 */
export function validateBlocks(blocks: unknown, surface: Surface, pointer = '/blocks'): string[] {
  const c = new Collector();
  checkBlocks(c, blocks, surface, pointer);
  return c.errors;
}

function checkBlocks(c: Collector, blocks: unknown, surface: Surface, pointer: string): void {
  if (!Array.isArray(blocks)) {
    c.add('must provide an array', pointer);
    return;
  }
  const max = surface === 'message' ? LIMITS.messageBlocks : LIMITS.viewBlocks;
  if (blocks.length > max) c.add(`no more than ${max} items allowed`, pointer);
  const blockIds = new Set<string>();
  blocks.forEach((b, i) => {
    const ptr = `${pointer}/${i}`;
    if (!isObj(b)) {
      c.add('must provide an object', ptr);
      return;
    }
    if (typeof b.type !== 'string') {
      c.add('missing required field: type', ptr);
      return;
    }
    const rule = BLOCKS[b.type];
    if (!rule) {
      c.add(`unsupported block type: ${b.type}`, `${ptr}/type`);
      return;
    }
    if (!SURFACE_BLOCKS[surface].has(b.type)) {
      c.add(`block type ${b.type} is not allowed in a ${surface}`, `${ptr}/type`);
      return;
    }
    if (b.block_id !== undefined && checkString(c, b.block_id, `${ptr}/block_id`, LIMITS.blockId, { min: 1 })) {
      const id = b.block_id as string;
      if (blockIds.has(id)) c.add(`block_id ${id} must be unique`, `${ptr}/block_id`);
      blockIds.add(id);
    }
    rule(c, b, ptr);
  });
}

/**
 * Validates a view payload (views.open / views.push / views.update / views.publish).
 * `expected` restricts the type: views.publish wants 'home', views.open and views.push 'modal'.
 */
export function validateView(view: unknown, expected: 'modal' | 'home' | 'any'): string[] {
  const c = new Collector();
  const ptr = '/view';
  if (!isObj(view)) {
    c.add('must provide an object', ptr);
    return c.errors;
  }
  if (view.type !== 'modal' && view.type !== 'home') {
    c.add('must be a valid enum value (modal or home)', `${ptr}/type`);
    return c.errors;
  }
  if (expected !== 'any' && view.type !== expected) {
    c.add(`must be ${expected} for this method`, `${ptr}/type`);
    return c.errors;
  }
  if (view.blocks === undefined) c.add('missing required field: blocks', ptr);
  else checkBlocks(c, view.blocks, view.type, `${ptr}/blocks`);
  optionalString(c, view, 'private_metadata', ptr, LIMITS.privateMetadata);
  optionalString(c, view, 'callback_id', ptr, LIMITS.callbackId);
  optionalString(c, view, 'external_id', ptr, LIMITS.externalId);
  if (view.type === 'modal') {
    textObject(c, view, ptr, { field: 'title', kind: 'plain_text', max: LIMITS.modalTitle });
    textObject(c, view, ptr, { field: 'submit', kind: 'plain_text', max: LIMITS.modalButton, required: false });
    textObject(c, view, ptr, { field: 'close', kind: 'plain_text', max: LIMITS.modalButton, required: false });
    optionalBoolean(c, view, 'clear_on_close', ptr);
    optionalBoolean(c, view, 'notify_on_close', ptr);
    optionalBoolean(c, view, 'submit_disabled', ptr);
    const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isObj(b) && b.type === 'input');
    if (hasInput && view.submit === undefined) c.add('missing required field: submit (required when the view has input blocks)', ptr);
  }
  return c.errors;
}

/** Validation of a chat message payload (text, blocks, attachments). */
export interface MessageCheck {
  /** The Slack error code to answer with, if the payload is invalid. */
  error?: 'no_text' | 'msg_too_long' | 'too_many_attachments' | 'invalid_blocks' | 'invalid_attachments';
  messages: string[];
}

export function validateMessagePayload(
  payload: { text?: unknown; blocks?: unknown; attachments?: unknown },
  { requireContent = true }: { requireContent?: boolean } = {},
): MessageCheck {
  const { text, blocks, attachments } = payload;
  const hasText = typeof text === 'string' && text.length > 0;
  const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
  const hasAttachments = Array.isArray(attachments) && attachments.length > 0;
  if (requireContent && !hasText && !hasBlocks && !hasAttachments) return { error: 'no_text', messages: [] };
  if (typeof text === 'string' && charLength(text) > LIMITS.messageText) {
    return { error: 'msg_too_long', messages: [`[ERROR] must be less than ${LIMITS.messageText + 1} characters [json-pointer:/text]`] };
  }
  if (blocks !== undefined) {
    const errors = validateBlocks(blocks, 'message', '/blocks');
    if (errors.length > 0) return { error: 'invalid_blocks', messages: errors };
  }
  if (attachments !== undefined) {
    if (!Array.isArray(attachments)) return { error: 'invalid_attachments', messages: ['[ERROR] must provide an array [json-pointer:/attachments]'] };
    if (attachments.length > LIMITS.attachments) return { error: 'too_many_attachments', messages: [] };
    const errors: string[] = [];
    attachments.forEach((a, i) => {
      if (!isObj(a)) errors.push(`[ERROR] must provide an object [json-pointer:/attachments/${i}]`);
      else if (a.blocks !== undefined) errors.push(...validateBlocks(a.blocks, 'message', `/attachments/${i}/blocks`));
    });
    if (errors.length > 0) return { error: 'invalid_attachments', messages: errors };
  }
  return { messages: [] };
}
