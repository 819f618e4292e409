// The browser test's script: Debian's Chromium, driven by playwright-core
// (no downloaded browser), goes through the sign-in portal behind nginx
// the way a person would. Run by tests/integration/browser.rs, which starts
// edgeauth, nginx (the README's recipe), the app and the mailbox, and
// passes their URLs:
//   APP_URL      http://app.example.test:<nginx port>   (the protected app)
//   PORTAL_URL   http://auth.example.test:<nginx port>  (the portal)
//   EVIL_URL     http://evil.test:<app port>            (another site)
//   MAILBOX_URL  http://127.0.0.1:<port>  GET /ticket|/link?kind=&email= → the
//                newest such event's ticket or mailed link
//   CHROMIUM     the browser binary;  SCREENSHOTS  where the PNGs go
// Elements are found the way a person finds them: by their labels, roles
// and button names. Every step prints a line; any failure exits non-zero.
// Passkeys: Chromium treats the portal's plain-HTTP origin as secure (a
// flag; WebAuthn needs a secure context) and each page that uses one gets a
// virtual authenticator over the DevTools protocol (WebAuthn domain): a
// platform authenticator with resident keys and user verification.

import { createHmac } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run by tests/integration/browser.rs)`);
  return value;
};
const APP = env('APP_URL');
const PORTAL = env('PORTAL_URL');
const EVIL = env('EVIL_URL');
const MAILBOX = env('MAILBOX_URL');
const SHOTS = env('SCREENSHOTS');
mkdirSync(SHOTS, { recursive: true });
rmSync(join(SHOTS, 'failure.png'), { force: true });

const ORIGINAL = `${APP}/private/page?x=1&y=two`;
const EMAIL = `ada.${Date.now()}@example.test`;
const PASSWORD = 'a long and strong passphrase 42';

let stepNo = 0;
const step = (text) => console.log(`step ${++stepNo}: ${text}`);
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------- TOTP (RFC 6238)

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(c);
    if (index < 0) throw new Error(`not base32: ${text}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit HMAC-SHA1 code of 30-second step `counter` (RFC 4226/6238). */
function totp(secret, counter) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32Decode(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(number % 1_000_000).padStart(6, '0');
}
const stepNow = () => Math.floor(Date.now() / 30_000);

/** A code of a step after `used` (a code is accepted once: wait for the next). */
async function freshCode(secret, used) {
  while (stepNow() <= used) await sleep(250);
  const counter = stepNow();
  return { code: totp(secret, counter), counter };
}

// ------------------------------------------------------------------ helpers

/** The `field` (`ticket`, `link`) of the newest `kind` event for `email`. */
async function mailbox(field, kind, email) {
  for (let i = 0; i < 40; i++) {
    const r = await fetch(`${MAILBOX}/${field}?kind=${encodeURIComponent(kind)}&email=${encodeURIComponent(email)}`);
    if (r.status === 200) return (await r.text()).trim();
    await sleep(100);
  }
  throw new Error(`no ${kind} event with a ${field} for ${email} in the events stream`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/** The accessibility smoke every portal page passes. */
async function accessible(page, what) {
  const report = await page.evaluate(() => {
    const problems = [];
    const lang = document.documentElement.getAttribute('lang');
    if (!lang || !lang.trim()) problems.push('no html[lang]');
    if (!document.title.trim()) problems.push('empty <title>');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) problems.push(`${h1} h1 elements, not one`);
    for (const input of document.querySelectorAll('input, select, textarea')) {
      const type = (input.getAttribute('type') || '').toLowerCase();
      if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
      const labelled =
        (input.labels && [...input.labels].some((l) => l.textContent.trim())) ||
        (input.getAttribute('aria-label') || '').trim() ||
        (input.getAttribute('aria-labelledby') || '').trim();
      if (!labelled) problems.push(`unlabelled <${input.tagName.toLowerCase()} name="${input.name}">`);
    }
    return problems;
  });
  check(report.length === 0, `${what} (${page.url()}): ${report.join('; ')}`);
}

/** Clicks `target` and waits for the page it leads to. */
async function clickAndWait(page, target) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), target.click()]);
}

/** Nothing scrolls sideways at a phone's width: not the page, not a box inside it. */
async function fitsPhone(page, what) {
  const found = await page.evaluate(() => {
    const out = [];
    const page = document.scrollingElement;
    if (page.scrollWidth > 375) out.push(`the page (scrollWidth ${page.scrollWidth})`);
    for (const el of document.body.querySelectorAll('*')) {
      const style = getComputedStyle(el);
      // (1-px boxes are text for screen readers only, clipped on purpose)
      if (style.overflowX !== 'visible' && el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1) {
        out.push(`<${el.tagName.toLowerCase()} class="${el.className}"> (scrollWidth ${el.scrollWidth} > ${el.clientWidth})`);
      }
    }
    return out;
  });
  check(found.length === 0, `${what} scrolls sideways at 375 px: ${found.join('; ')}`);
}

/** A virtual platform authenticator for `page` (resident keys, user verified). */
async function virtualAuthenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return {
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

async function heading(page) {
  return (await page.locator('h1').first().textContent())?.trim();
}

async function expectHeading(page, text, what) {
  const h1 = await heading(page);
  check(h1 === text, `${what}: h1 ${JSON.stringify(h1)} at ${page.url()}, expected ${JSON.stringify(text)}`);
}

/** On the sign-in page (reached from the app), with rd = the app URL. */
async function expectSignIn(page, rd, what) {
  const url = new URL(page.url());
  check(url.hostname === 'auth.example.test', `${what}: on ${page.url()}, not the portal`);
  check(url.pathname === '/auth/ui/login', `${what}: on ${page.url()}, not the sign-in page`);
  if (rd !== undefined) check(url.searchParams.get('rd') === rd, `${what}: rd ${url.searchParams.get('rd')}, expected ${rd}`);
  await expectHeading(page, 'Sign in', what);
}

async function signInWithPassword(page) {
  await page.getByLabel('Email', { exact: true }).fill(EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in', exact: true }));
}

/** The app's echo page: what nginx passed on. */
async function appSees(page) {
  const text = async (id) => (await page.locator(`#${id}`).textContent())?.trim();
  return { path: await text('path'), user: await text('user'), email: await text('email'), session: await text('session') };
}

async function expectApp(page, url, what) {
  check(page.url() === url, `${what}: at ${page.url()}, expected ${url}`);
  const seen = await appSees(page);
  const expected = new URL(url);
  check(seen.path === expected.pathname + expected.search, `${what}: the app saw ${seen.path}`);
  check(/^[0-9a-f-]{36}$/.test(seen.user || ''), `${what}: the app saw user id ${JSON.stringify(seen.user)}`);
  check(seen.email === EMAIL, `${what}: the app saw email ${JSON.stringify(seen.email)}`);
  return seen;
}

// ------------------------------------------------------------------ the run

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--host-resolver-rules=MAP *.example.test 127.0.0.1, MAP evil.test 127.0.0.1',
    `--unsafely-treat-insecure-origin-as-secure=${PORTAL}`,
  ],
});
const desktop = { viewport: { width: 1280, height: 800 } };
const a = await browser.newContext(desktop);
a.setDefaultTimeout(10_000);
const page = await a.newPage();
let current = page;

try {
  step(`open ${ORIGINAL} signed out`);
  await page.goto(ORIGINAL);
  await expectSignIn(page, ORIGINAL, 'signed out, the app sends the browser to sign in');
  const signInUrl = page.url();
  await accessible(page, 'sign-in page');
  await shot(page, 'sign-in.png');

  step('the sign-in page on a phone (375×740): no horizontal scrolling');
  {
    const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    phone.setDefaultTimeout(10_000);
    const small = await phone.newPage();
    current = small;
    await small.goto(signInUrl);
    await expectHeading(small, 'Sign in', 'phone sign-in');
    await shot(small, 'sign-in-phone.png');
    await fitsPhone(small, 'the sign-in page');
    await phone.close();
    current = page;
  }

  step('"Create an account"');
  await clickAndWait(page, page.getByRole('link', { name: 'Create an account' }));
  await expectHeading(page, 'Create an account', 'register page');
  await accessible(page, 'register page');
  await shot(page, 'register.png');
  await page.getByLabel('Email', { exact: true }).fill(EMAIL);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await clickAndWait(page, page.getByRole('button', { name: 'Create account' }));
  await expectHeading(page, 'Check your email', 'after registering');
  await accessible(page, 'check-your-email page');
  console.log(`  registered ${EMAIL}`);

  step('the activation link from the mailbox: the page does not activate on GET');
  const activation = await mailbox('ticket', 'account.registered', EMAIL);
  const activateUrl = await mailbox('link', 'account.registered', EMAIL);
  const expectedLink = `${PORTAL}/auth/ui/activate?ticket=${encodeURIComponent(activation)}`;
  check(activateUrl === expectedLink, `the mailed link ${activateUrl}, expected ${expectedLink}`);
  await page.goto(activateUrl);
  await page.goto(activateUrl); // twice: a GET must not spend the ticket
  await expectHeading(page, 'Activate your account', 'activation page');
  await accessible(page, 'activation page');
  await shot(page, 'activate.png');
  await clickAndWait(page, page.getByRole('button', { name: 'Activate' }));
  await expectHeading(page, 'Account activated', 'after "Activate" (the ticket still worked after two GETs)');
  await accessible(page, 'account-activated page');
  check((await page.getByRole('link', { name: 'Sign in' }).count()) > 0, 'the activated page links to "Sign in"');

  step('sign in from the app: back on the exact original URL');
  await page.goto(ORIGINAL);
  await expectSignIn(page, ORIGINAL, 'the app, not signed in yet');
  await signInWithPassword(page);
  const first = await expectApp(page, ORIGINAL, 'after signing in');
  console.log(`  the app sees user ${first.user}, ${first.email}`);

  step('the MFA-only location refuses a password-only session (403)');
  {
    const r = await page.goto(`${APP}/admin/panel`);
    check(r.status() === 403, `/admin/ without a second factor: ${r.status()} at ${page.url()}`);
  }

  step('the account page: set up two-factor authentication');
  await page.goto(`${PORTAL}/auth/ui/account`);
  await expectHeading(page, 'Your account', 'account page');
  await accessible(page, 'account page');
  check((await page.getByText(EMAIL).count()) > 0, 'the account page shows the email');
  check((await page.getByRole('heading', { name: 'Sessions' }).count()) === 1, 'a "Sessions" section');
  await shot(page, 'account.png');
  await clickAndWait(page, page.getByRole('button', { name: 'Set up two-factor authentication' }));
  await accessible(page, 'MFA setup');
  check((await page.getByRole('img', { name: 'QR code' }).count()) === 1, 'the QR code image');
  const secret = (await page.locator('#otp-secret').textContent()).trim();
  check(/^[A-Z2-7]+=*$/.test(secret.replace(/\s/g, '')), `#otp-secret is base32: ${secret}`);
  await shot(page, 'account-mfa-setup.png');
  let used = stepNow();
  await page.getByLabel('Authentication code', { exact: true }).fill(totp(secret, used));
  await clickAndWait(page, page.getByRole('button', { name: 'Turn on' }));
  await accessible(page, 'recovery codes');
  const recovery = (await page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());
  check(recovery.length === 10, `10 recovery codes, got ${recovery.length}: ${recovery}`);
  await shot(page, 'recovery-codes.png');
  console.log(`  two-factor authentication on; ${recovery.length} recovery codes`);

  step('"Sign out": signed out, and the app is closed again');
  await page.goto(`${PORTAL}/auth/ui/account`);
  check((await page.getByText('Two-factor authentication is on').count()) > 0, 'the account page says MFA is on');
  await clickAndWait(page, page.getByRole('button', { name: 'Sign out' }));
  await expectSignIn(page, undefined, 'after "Sign out"');
  check((await page.getByText('You are signed out.').count()) > 0, 'the "You are signed out." notice');
  await page.goto(ORIGINAL);
  await expectSignIn(page, ORIGINAL, 'the app after signing out');

  step('sign in again: password, then the authentication code');
  await signInWithPassword(page);
  await expectHeading(page, 'Two-factor authentication', 'the second step');
  await accessible(page, 'MFA step');
  {
    const code = page.getByLabel('Authentication code', { exact: true });
    check((await code.getAttribute('autocomplete')) === 'one-time-code', 'the code input has autocomplete=one-time-code');
  }
  await shot(page, 'mfa-step.png');
  console.log('  waiting for a code not used yet (a code is accepted once)');
  const fresh = await freshCode(secret, used);
  used = fresh.counter;
  await page.getByLabel('Authentication code', { exact: true }).fill(fresh.code);
  await clickAndWait(page, page.getByRole('button', { name: 'Verify' }));
  const signedIn = await expectApp(page, ORIGINAL, 'after the second step');

  step('the MFA-only location admits the session that used a second factor');
  {
    const r = await page.goto(`${APP}/admin/panel`);
    check(r.status() === 200, `/admin/ after MFA: ${r.status()}`);
    await expectApp(page, `${APP}/admin/panel`, 'the MFA-only location');
  }

  step('a second browser (another device) signs in with a recovery code');
  const b = await browser.newContext(desktop);
  b.setDefaultTimeout(10_000);
  const other = await b.newPage();
  current = other;
  await other.goto(ORIGINAL);
  await expectSignIn(other, ORIGINAL, 'second browser');
  await signInWithPassword(other);
  await expectHeading(other, 'Two-factor authentication', 'second browser, second step');
  await other.getByLabel('Recovery code', { exact: true }).fill(recovery[0]);
  await clickAndWait(other, other.getByRole('button', { name: 'Use a recovery code' }));
  const second = await expectApp(other, ORIGINAL, 'second browser signed in');
  check(second.session !== signedIn.session, 'two sessions');

  step('the second browser revokes the first one\'s session');
  await other.goto(`${PORTAL}/auth/ui/account`);
  await expectHeading(other, 'Your account', 'second browser account page');
  await accessible(other, 'account page (two sessions)');
  check((await other.getByText('This device').count()) > 0, 'the current session is marked "This device"');
  {
    // The widest page (a table of sessions) on a phone, too.
    await other.setViewportSize({ width: 375, height: 740 });
    await shot(other, 'account-phone.png');
    await fitsPhone(other, 'the account page');
    await other.setViewportSize(desktop.viewport);
  }
  const revokeForm = other.locator('form').filter({ has: other.locator(`input[name="id"][value="${signedIn.session}"]`) });
  check((await revokeForm.count()) === 1, `a "Revoke" form for the first browser's session ${signedIn.session}`);
  await clickAndWait(other, revokeForm.getByRole('button', { name: 'Revoke' }));
  current = page;
  await page.goto(ORIGINAL);
  await expectSignIn(page, ORIGINAL, 'the first browser after its session was revoked');
  current = other;
  await other.goto(ORIGINAL);
  await expectApp(other, ORIGINAL, 'the second browser is still signed in');

  step('a cross-site form POST to the portal is refused (403)');
  await other.goto(`${EVIL}/evil`);
  for (const button of ['Claim the prize', 'Claim another prize']) {
    await other.goto(`${EVIL}/evil`);
    const [response] = await Promise.all([
      other.waitForNavigation(),
      other.getByRole('button', { name: button }).click(),
    ]);
    check(response.status() === 403, `cross-site POST (${button}) to ${response.url()}: ${response.status()}`);
    console.log(`  ${response.url()}: ${response.status()}`);
  }
  await other.goto(ORIGINAL);
  await expectApp(other, ORIGINAL, 'still signed in after the cross-site POSTs');

  step('the account page: add a passkey (a virtual authenticator in this browser)');
  const authenticator = await virtualAuthenticator(b, other);
  await other.goto(`${PORTAL}/auth/ui/account`);
  await expectHeading(other, 'Your account', 'account page with passkeys');
  check((await other.getByRole('heading', { name: 'Passkeys' }).count()) === 1, 'a "Passkeys" section');
  check(await other.getByRole('button', { name: 'Add a passkey' }).isVisible(), 'the script shows "Add a passkey"');
  check(!(await other.locator('#passkey-unsupported').isVisible()), 'no "use a browser that supports passkeys" note');
  await other.getByLabel('Passkey name', { exact: true }).fill('Work laptop');
  await clickAndWait(other, other.getByRole('button', { name: 'Add a passkey' }));
  await expectHeading(other, 'Your account', 'after adding a passkey');
  check((await other.getByText('Passkey added.').count()) > 0, 'the "Passkey added." notice');
  check((await other.locator('#passkey-list li').count()) === 1, 'one passkey in the list');
  check((await other.locator('#passkey-list').getByText('Work laptop').count()) === 1, 'the list shows its name');
  check((await other.locator('#passkey-list').getByRole('button', { name: 'Remove' }).count()) === 1, 'a "Remove" button');
  await accessible(other, 'account page with a passkey');
  {
    const stored = await authenticator.credentials();
    check(stored.length === 1 && stored[0].isResidentCredential, `one resident credential on the authenticator: ${JSON.stringify(stored)}`);
  }
  await shot(other, 'account-passkeys.png');
  {
    await other.setViewportSize({ width: 375, height: 740 });
    await shot(other, 'account-passkeys-phone.png');
    await fitsPhone(other, 'the account page with a passkey');
    await other.setViewportSize(desktop.viewport);
  }
  console.log('  passkey "Work laptop" added');

  step('sign out, then "Sign in with a passkey" alone: no password, no code (MFA is on)');
  await clickAndWait(other, other.getByRole('button', { name: 'Sign out' }));
  await expectSignIn(other, undefined, 'after "Sign out" (passkey browser)');
  await other.goto(ORIGINAL);
  await expectSignIn(other, ORIGINAL, 'the app, signed out (passkey browser)');
  {
    const button = other.getByRole('button', { name: 'Sign in with a passkey' });
    check(await button.isVisible(), 'the script shows "Sign in with a passkey"');
    await accessible(other, 'sign-in page with the passkey button');
    await shot(other, 'sign-in-passkey.png');
    await clickAndWait(other, button);
  }
  const byPasskey = await expectApp(other, ORIGINAL, 'after "Sign in with a passkey"');
  check(byPasskey.session !== second.session, 'a new session');

  step('the MFA-only location admits the passkey session (a passkey is multi-factor)');
  {
    const r = await other.goto(`${APP}/admin/panel`);
    check(r.status() === 200, `/admin/ after a passkey sign-in: ${r.status()}`);
    await expectApp(other, `${APP}/admin/panel`, 'the MFA-only location (passkey)');
  }

  await browser.close();
  console.log('browser: ok');
} catch (error) {
  console.log(`FAILED at step ${stepNo}: ${error.stack || error}`);
  try {
    console.log(`  page: ${current.url()}`);
    await current.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true });
    console.log(`  screenshot: ${join(SHOTS, 'failure.png')}`);
    const body = await current.evaluate(() => document.body?.innerText ?? '');
    console.log(`  page text:\n${body.slice(0, 2000)}`);
  } catch (e) {
    console.log(`  (no screenshot: ${e})`);
  }
  await browser.close();
  process.exit(1);
}
