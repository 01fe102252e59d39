/**
 * The one-time form in a real browser: Debian's headless Chromium driven with playwright-core
 * against the bot's own HTTP server. Open the link, fill the form, submit; then a reused link, an
 * expired link (the bot's clock moved past 10 minutes) and another user's token are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { fingerprint } from '../../commands/rotate/secret.ts';
import { readFormValues } from '../../commands/rotate/staged.ts';
import { fastTiming, platform } from './helpers.ts';
import { OPS, USERS, linkFrom, startRotationBot } from './bot-helpers.ts';
import type { RotationBot } from './bot-helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const VALUES = { id: 'Ov23liBROWSER000001', secret: 'browser-form-secret-2b4d6f8a0c1e3a5c7e9b' };

let browser: Browser;
let t: RotationBot;

beforeAll(async () => {
  fastTiming();
  t = await startRotationBot(await platform());
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function newLink(user: string = USERS.operator): Promise<string> {
  await t.command(user, 'rotate github');
  return linkFrom(t, user);
}

async function withPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
  const context = await browser.newContext();
  try {
    return await fn(await context.newPage());
  } finally {
    await context.close();
  }
}

async function fill(page: Page, values = VALUES): Promise<void> {
  await page.fill('#client_id', values.id);
  await page.fill('#client_secret', values.secret);
  await page.click('#submit');
  // The form page has none of these: one of them is the answer to the submission.
  await page.waitForSelector('#received, #refused, #problem');
}

describe('the one-time form in headless Chromium', () => {
  it('opens from the link, takes the values in a password field and shows the command to request the rotation', async () => {
    const link = await newLink();
    await withPage(async (page) => {
      const response = await page.goto(link);
      expect(response?.status()).toBe(200);
      const headers = response!.headers();
      expect(headers['cache-control']).toBe('no-store');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(await page.title()).toContain('New GitHub OAuth credentials');
      expect(await page.getAttribute('#client_secret', 'type')).toBe('password');
      expect(await page.inputValue('input[name="token"]')).toBe(link.split('/').at(-1));

      await fill(page);
      expect(await page.textContent('#received')).toContain('received and sealed');
      expect(await page.textContent('#client-id')).toBe(VALUES.id);
      expect(await page.textContent('#fingerprint')).toBe(fingerprint(VALUES.secret));
      const command = (await page.textContent('#command'))!;
      expect(command).toMatch(/^\/autostack rotate github apply --form [a-f0-9]{12}$/);
      expect(await page.content()).not.toContain(VALUES.secret);

      const formId = command.split(' ').at(-1)!;
      const stored = await readFormValues(t.bot.deps.clients.redis, t.config.redis.prefix, formId);
      expect(stored).toMatchObject({ user: USERS.operator, provider: 'github', clientId: VALUES.id, fingerprint: fingerprint(VALUES.secret) });
      expect(t.bot.deps.secrets.open(stored!.sealedSecret)).toBe(VALUES.secret);
      await t.eventually(() => t.ephemeralTexts(USERS.operator).some((text) => text.includes(command)), 'the private notice in Slack');
    });
  });

  it('refuses a reused link, including a second tab opened before the first submission', async () => {
    const link = await newLink();
    await withPage(async (first) => {
      const second = await first.context().newPage();
      await first.goto(link);
      await second.goto(link);
      await fill(first);
      expect(await first.textContent('#received')).toContain('received and sealed');

      await fill(second, { id: VALUES.id, secret: 'another-secret-value-0123456789' });
      expect(await second.textContent('#refused')).toBe('This link was already used: each link works once.');

      const again = await first.goto(link);
      expect(again?.status()).toBe(410);
      expect(await first.textContent('#refused')).toBe('This link was already used: each link works once.');
      expect(await first.locator('form').count()).toBe(0);
    });
  });

  it('refuses an expired link, also when the page was opened before it expired', async () => {
    const link = await newLink();
    await withPage(async (page) => {
      await page.goto(link);
      t.advance(10 * 60_000 + 1000);
      try {
        await fill(page);
        expect(await page.textContent('#refused')).toBe('This link has expired: links work for 10 minutes.');
        const reopened = await page.goto(link);
        expect(reopened?.status()).toBe(410);
        expect(await page.textContent('#refused')).toBe('This link has expired: links work for 10 minutes.');
      } finally {
        t.resetClock();
      }
    });
  });

  it("refuses another user's token, in the form and in Slack", async () => {
    const mine = await newLink(USERS.operator);
    const theirs = await newLink(USERS.approver);
    await withPage(async (page) => {
      // The page of one link carrying another user's token.
      await page.goto(mine);
      await page.evaluate((token) => {
        (document.querySelector('input[name="token"]') as HTMLInputElement).value = token;
      }, theirs.split('/').at(-1)!);
      await fill(page);
      expect(await page.textContent('#refused')).toContain('This submission does not belong to this link');
    });
    // Values submitted through the other user's link cannot be used by this one.
    const formId = await withPage(async (page) => {
      await page.goto(theirs);
      await fill(page);
      return (await page.textContent('#command'))!.split(' ').at(-1)!;
    });
    await t.command(USERS.operator, `rotate github apply --form ${formId}`);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(new RegExp(`Form ${formId} was submitted through a link given to another user: only <@${USERS.approver}>`));
    expect(t.messages(OPS).some((m) => t.text(m).includes('asks to run `rotate github apply`'))).toBe(false);
    // Both links still work for their own users (the refused submission used nothing up).
    expect((await fetch(mine)).status).toBe(200);
  });
});
