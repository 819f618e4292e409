// Drives the real Hasura Backend Plus JavaScript client (nhost-js-sdk 2.3.4)
// against a running edgeauth with EDGEAUTH_HBP_COMPAT=true and
// EDGEAUTH_JWT_HASURA_CLAIMS=true. Run by tests/integration/hbp.rs; by hand:
//
//   npm ci --prefix tests/hbp-sdk
//   EDGEAUTH_URL=http://127.0.0.1:8080 EDGEAUTH_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//     node tests/hbp-sdk/run.mjs
//
// Tickets (activation, password reset) are read from the events stream
// (`<prefix>events`, EDGEAUTH_REDIS_PREFIX, default `edgeauth:`), as a mailer
// would. Every step checks what the SDK ended up with; the SDK swallows some
// failures (refreshToken, logout), so those are checked against the server
// too. Any unusable answer exits non-zero with the request trace.
//
// The SDK is written for browsers. Node has no `window` (the SDK would
// then run in its server-side mode and never store a refresh token), so a
// minimal window with a localStorage is provided; axios uses its Node http
// adapter, which keeps no cookies, so cookie mode gets a small cookie jar
// on the SDK's own axios instance.

import { createRequire } from "node:module";
import crypto from "node:crypto";
import net from "node:net";

const require = createRequire(import.meta.url);

const BASE = process.env.EDGEAUTH_URL;
const REDIS_URL = process.env.EDGEAUTH_TEST_REDIS_URL;
const PREFIX = process.env.EDGEAUTH_REDIS_PREFIX || "edgeauth:";
if (!BASE || !REDIS_URL) {
  console.error("set EDGEAUTH_URL (the edgeauth base URL) and EDGEAUTH_TEST_REDIS_URL (its Redis)");
  process.exit(2);
}

// ---------------------------------------------------------------- browser shim

class MemoryStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
}

globalThis.window = {
  localStorage: new MemoryStorage(),
  location: { search: "", href: "http://app.example/" },
  history: { pushState() {} },
};
globalThis.document = { title: "edgeauth hbp sdk test" };

const nhost = require("nhost-js-sdk").default;

// ---------------------------------------------------------------- reporting

const trace = [];
let step = "start";

function fail(message) {
  console.error(`\nFAIL in step "${step}": ${message}\n\nrequests so far:`);
  for (const line of trace) console.error(`  ${line}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
}

function describeError(e) {
  if (e && e.response) {
    return `HTTP ${e.response.status} ${JSON.stringify(e.response.data)}`;
  }
  return String((e && e.stack) || e);
}

/// Runs one SDK call; a throw is a failure with the server's answer.
async function sdk(name, call) {
  step = name;
  try {
    return await call();
  } catch (e) {
    fail(`the SDK call threw: ${describeError(e)}`);
  }
}

/// Records every request the SDK makes (method, URL, status, body keys).
function traced(auth, label) {
  const client = auth.http_client;
  const record = (response) => {
    const c = response.config;
    const keys = response.data && typeof response.data === "object" ? Object.keys(response.data) : [];
    const params = Object.keys(c.params || {}).filter((k) => c.params[k] != null);
    const query = params.length ? `?${params.map((k) => `${k}=…`).join("&")}` : "";
    trace.push(`${label} ${c.method.toUpperCase()} ${c.url}${query} -> ${response.status} {${keys.join(",")}}`);
  };
  client.interceptors.response.use(
    (response) => {
      record(response);
      auth.lastResponse = response;
      return response;
    },
    (error) => {
      if (error.response) record(error.response);
      else trace.push(`${label} ${error.config && error.config.url} -> ${error.message}`);
      return Promise.reject(error);
    },
  );
  return auth;
}

/// A cookie jar on the SDK's axios instance: what a browser does for
/// `withCredentials: true` (only the refresh_token cookie matters here).
function withCookieJar(auth) {
  const jar = new Map();
  const client = auth.http_client;
  client.interceptors.request.use((config) => {
    if (jar.size > 0) {
      config.headers = config.headers || {};
      config.headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    return config;
  });
  const store = (response) => {
    for (const header of (response && response.headers["set-cookie"]) || []) {
      const [pair, ...attributes] = header.split(";").map((s) => s.trim());
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      const cleared = value === "" || attributes.some((a) => /^max-age=0$/i.test(a));
      if (cleared) jar.delete(name);
      else jar.set(name, value);
    }
  };
  // Registered after `traced`, so it runs first on responses.
  client.interceptors.response.use(
    (response) => {
      store(response);
      return response;
    },
    (error) => {
      store(error.response);
      return Promise.reject(error);
    },
  );
  return jar;
}

// ---------------------------------------------------------------- helpers

/// A tiny RESP client: one command, one reply.
function redis(...args) {
  const url = new URL(REDIS_URL);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port || 6379), url.hostname);
    let buffer = Buffer.alloc(0);
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseResp(buffer, 0);
      if (parsed) {
        socket.end();
        if (parsed.value instanceof Error) reject(parsed.value);
        else resolve(parsed.value);
      }
    });
    const command = [`*${args.length}\r\n`];
    for (const a of args) command.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
    socket.write(command.join(""));
  });
}

/// Parses one RESP2 value at `at`; null when the buffer is incomplete.
function parseResp(buffer, at) {
  const end = buffer.indexOf("\r\n", at);
  if (end < 0) return null;
  const type = String.fromCharCode(buffer[at]);
  const line = buffer.toString("utf8", at + 1, end);
  const next = end + 2;
  switch (type) {
    case "+":
      return { value: line, next };
    case "-":
      return { value: new Error(line), next };
    case ":":
      return { value: Number(line), next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buffer.length < next + length + 2) return null;
      return { value: buffer.toString("utf8", next, next + length), next: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      const items = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buffer, cursor);
        if (!item) return null;
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`unexpected RESP type ${type}`);
  }
}

/// The ticket of the newest `type` event for `email`, as a mailer reads it.
async function ticketFor(type, email) {
  const entries = await redis("XRANGE", `${PREFIX}events`, "-", "+");
  for (const [, fields] of entries.reverse()) {
    const event = {};
    for (let i = 0; i < fields.length; i += 2) event[fields[i]] = fields[i + 1];
    if (event.type === type && event.email === email && event.ticket) return event.ticket;
  }
  fail(`no ${type} event with a ticket for ${email}`);
}

function decodeJwt(token) {
  check(typeof token === "string" && token.split(".").length === 3, `not a JWT: ${token}`);
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    const index = alphabet.indexOf(c);
    check(index >= 0, `otp_secret is not base32: ${text}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for time step `counter`.
function totp(secret, counter) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac("sha1", base32Decode(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, "0");
}

const nowStep = () => Math.floor(Date.now() / 30_000);

/// A raw request outside the SDK, for checking what the server now thinks.
async function raw(method, path, { bearer, cookie } = {}) {
  const headers = {};
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (cookie) headers.Cookie = `refresh_token=${cookie}`;
  const response = await fetch(`${BASE}${path}`, { method, headers });
  const text = await response.text();
  trace.push(`check ${method} ${path.replace(/refresh_token=[^&]+/, "refresh_token=…")} -> ${response.status}`);
  return { status: response.status, headers: response.headers, text };
}

async function expectVerify(jwt, status, what) {
  const r = await raw("GET", "/auth/verify", { bearer: jwt });
  check(r.status === status, `${what}: /auth/verify answered ${r.status}, expected ${status}: ${r.text}`);
  return r;
}

async function expectRefreshRefused(token, what) {
  const r = await raw("GET", `/auth/token/refresh?refresh_token=${encodeURIComponent(token)}`);
  check(r.status === 401, `${what}: refreshing with it answered ${r.status}, expected 401: ${r.text}`);
}

function storedRefreshToken() {
  return window.localStorage.getItem("refresh_token");
}

function expectSignedIn(auth, what) {
  check(auth.isAuthenticated() === true, `${what}: the SDK is not signed in`);
  const jwt = auth.getJWTToken();
  const claims = decodeJwt(jwt);
  const userId = auth.getClaim("x-hasura-user-id");
  check(userId === claims.sub, `${what}: x-hasura-user-id ${userId} is not sub ${claims.sub}`);
  check(auth.getClaim("x-hasura-default-role") === "user", `${what}: default role ${auth.getClaim("x-hasura-default-role")}`);
  const allowed = auth.getClaim("x-hasura-allowed-roles");
  check(Array.isArray(allowed) && allowed.includes("user"), `${what}: allowed roles ${JSON.stringify(allowed)}`);
  return { jwt, claims };
}

// ---------------------------------------------------------------- the run

const id = crypto.randomBytes(6).toString("hex");
const emailA = `sdk-a-${id}@example.com`;
const emailB = `sdk-b-${id}@example.com`;
const password1 = "first sdk password";
const password2 = "second sdk password";
const password3 = "third sdk password";

// --- A: the SDK without cookies (refresh token in localStorage), the common setup
nhost.initializeApp({ base_url: BASE, use_cookies: false });
const auth = traced(nhost.auth(), "A");

await sdk("register", () => auth.register(emailA, password1));
const activation = await ticketFor("account.registered", emailA);
await sdk("activate", () => auth.activate(activation));
check(auth.lastResponse.status === 204, `activate answered ${auth.lastResponse.status}`);

const loginResult = await sdk("login (cookie: false)", () => auth.login(emailA, password1));
check(loginResult && !("mfa" in loginResult), `login returned ${JSON.stringify(loginResult)}`);
check(!auth.lastResponse.headers["set-cookie"], "cookie: false still set a cookie");
const first = expectSignedIn(auth, "after login");
const firstRefresh = storedRefreshToken();
check(typeof firstRefresh === "string" && firstRefresh.length > 20, `no refresh_token stored: ${firstRefresh}`);
check(auth.lastResponse.data.jwt_expires_in > 0, `jwt_expires_in ${auth.lastResponse.data.jwt_expires_in}`);

step = "authenticated call with the SDK's JWT";
const verified = await expectVerify(first.jwt, 200, "fresh JWT");
check(verified.headers.get("x-auth-user-id") === first.claims.sub, "X-Auth-User-Id is not the JWT's sub");

await sdk("refresh (query token)", () => auth.refreshToken());
const secondRefresh = storedRefreshToken();
check(secondRefresh && secondRefresh !== firstRefresh, "refreshToken() did not store a new refresh token");
const second = expectSignedIn(auth, "after refresh");
check(second.claims.jti !== first.claims.jti, "refreshToken() did not replace the JWT");

const generated = await sdk("MFA generate", () => auth.MFAGenerate());
check(/^data:image\/png;base64,/.test(generated.image_url), `image_url ${String(generated.image_url).slice(0, 40)}`);
check(/^[A-Z2-7]{32}$/.test(generated.otp_secret), `otp_secret ${generated.otp_secret}`);
// The server accepts steps now-1..now+1, each newer than the last one used:
// enable with `now`, the login below with `now + 1`.
const enableStep = nowStep();
await sdk("MFA enable", () => auth.MFAEnable(totp(generated.otp_secret, enableStep)));

await sdk("change password", () => auth.changePassword(password1, password2));
step = "change password keeps this session";
await expectVerify(second.jwt, 200, "the JWT of the session that changed the password");

const sessionJwt = second.jwt;
await sdk("logout (query token)", () => auth.logout());
check(auth.isAuthenticated() === false, "still signed in after logout");
check(storedRefreshToken() === null, "logout left the refresh token in storage");
step = "logout ended the session";
await expectRefreshRefused(secondRefresh, "the refresh token after logout");
await expectVerify(sessionJwt, 401, "the JWT after logout");

step = "old password refused";
try {
  await auth.login(emailA, password1);
  fail("login with the old password succeeded");
} catch (e) {
  check(e.response && e.response.status === 401, `old password: ${describeError(e)}`);
}

const challenge = await sdk("login with MFA", () => auth.login(emailA, password2));
check(challenge.mfa === true && typeof challenge.ticket === "string", `login with MFA returned ${JSON.stringify(challenge)}`);
check(auth.isAuthenticated() !== true, "signed in before the second factor");
await sdk("MFA totp (cookie: false)", () => auth.MFATotp(totp(generated.otp_secret, enableStep + 1), challenge.ticket));
const afterTotp = expectSignedIn(auth, "after MFA totp");
check(storedRefreshToken(), "MFATotp did not store a refresh token");
await expectVerify(afterTotp.jwt, 200, "the JWT from MFA totp");

await sdk("forgot password: request", () => auth.changePasswordRequest(emailA));
const reset = await ticketFor("password.reset_requested", emailA);
await sdk("forgot password: change", () => auth.changePasswordChange(password3, reset));
step = "a reset ends every session";
await expectVerify(afterTotp.jwt, 401, "the JWT after a password reset");
await expectRefreshRefused(storedRefreshToken(), "the refresh token after a password reset");
// The app signs A out; the SDK clears its storage (the server answers 204
// for the already-ended session).
await sdk("logout after the reset", () => auth.logout());
check(storedRefreshToken() === null, "logout left the refresh token in storage");

// --- B: the SDK with cookies (a browser with withCredentials)
nhost.initializeApp({ base_url: BASE, use_cookies: true });
const cookieAuth = traced(nhost.auth(), "B");
const jar = withCookieJar(cookieAuth);

await sdk("register (cookie mode)", () => cookieAuth.register(emailB, password1));
const activationB = await ticketFor("account.registered", emailB);
await sdk("activate (cookie mode)", () => cookieAuth.activate(activationB));
await sdk("login (cookie: true)", () => cookieAuth.login(emailB, password1));
const cookieSession = expectSignedIn(cookieAuth, "cookie mode login");
const cookie1 = jar.get("refresh_token");
check(cookie1, "cookie mode login set no refresh_token cookie");
check(!("refresh_token" in cookieAuth.lastResponse.data), "cookie mode login put the refresh token in the body");
check(storedRefreshToken() === null, "cookie mode stored a refresh token");

// Another session of B (a second device), for logout {all: true}.
step = "second device of B";
const other = await fetch(`${BASE}/auth/login`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email: emailB, password: password1 }),
});
check(other.status === 200, `second login answered ${other.status}`);
const otherJwt = (await other.json()).jwt_token;

// In cookie mode SDK 2.3.4 refreshes only when handed a token (it keeps
// none itself): the app passes a placeholder, the cookie wins.
await sdk("refresh (cookie + placeholder query)", () => cookieAuth.refreshToken("cookie"));
const cookie2 = jar.get("refresh_token");
check(cookie2 && cookie2 !== cookie1, "refresh did not rotate the cookie");
const afterCookieRefresh = expectSignedIn(cookieAuth, "cookie mode refresh");
check(afterCookieRefresh.claims.jti !== cookieSession.claims.jti, "cookie mode refresh kept the JWT");

await sdk("logout {all: true} (cookie)", () => cookieAuth.logout(true));
check(cookieAuth.isAuthenticated() === false, "still signed in after logout(true)");
check(!jar.has("refresh_token"), "logout did not clear the cookie");
step = "logout {all: true} ended every session";
await expectVerify(afterCookieRefresh.jwt, 401, "B's JWT after logout(true)");
await expectVerify(otherJwt, 401, "B's other device after logout(true)");
const stale = await raw("GET", "/auth/token/refresh", { cookie: cookie2 });
check(stale.status === 401, `the logged-out cookie still refreshes: ${stale.status}`);

console.log(`hbp sdk: ok (${trace.length} requests)`);
for (const line of trace) console.log(`  ${line}`);
process.exit(0);
