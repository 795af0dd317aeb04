// A SMART standalone launch driven by fhirclient itself: a small Node app calls fhirclient's
// authorize() (discovery at {base}/.well-known/smart-configuration, PKCE) and ready() (code for
// token), while the test plays the user's browser on the sandbox issuer's login page. The token
// fhirclient ends up with must then search the adapter.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import smart from 'fhirclient';
import { base, patients } from './env.mjs';

// One user, one browser: a single in-memory session is enough storage for fhirclient's state.
const session = new Map();
const storage = {
  get: async (k) => session.get(k),
  set: async (k, v) => { session.set(k, v); return v; },
  unset: async (k) => session.delete(k),
};

const app = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://app').pathname;
    if (path === '/launch') {
      await smart(req, res, storage).authorize({
        iss: base, clientId: 'eps-clients-test', scope: 'user/*.rs', redirectUri: '/callback',
      });
      return; // authorize answered with a redirect to the issuer
    }
    if (path === '/callback') {
      const client = await smart(req, res, storage).ready();
      const bundle = await client.request(`MedicationRequest?patient:identifier=${patients.acuteAndRepeat}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ scope: client.state.tokenResponse?.scope, bundle }));
      return;
    }
    res.writeHead(404).end();
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.status || ''} ${err.stack || err}`);
  }
});
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
after(() => app.close());
const appURL = `http://127.0.0.1:${app.address().port}`;

// hiddenFields reads the login form's hidden inputs, as the browser would post them back.
function hiddenFields(html) {
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(m[1], m[2].replaceAll('&amp;', '&').replaceAll('&#43;', '+').replaceAll('&#34;', '"').replaceAll('&#39;', "'"));
  }
  return fields;
}

test('fhirclient standalone launch: login with a sandbox user, then search with the token', async () => {
  const launch = await fetch(`${appURL}/launch`, { redirect: 'manual' });
  assert.equal(launch.status, 302, await launch.text());
  const authorize = new URL(launch.headers.get('location'));
  assert.equal(authorize.origin + authorize.pathname, new URL('/oauth2/authorize', base).href);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256', 'fhirclient did not use PKCE');
  assert.equal(authorize.searchParams.get('aud'), base);

  const page = await fetch(authorize);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  const form = hiddenFields(html);
  assert.equal(form.get('redirect_uri'), `${appURL}/callback`);
  form.set('username', '555555555555');
  form.set('password', 'sandbox-prescriber');
  const login = await fetch(authorize, { method: 'POST', redirect: 'manual', body: form });
  assert.ok([302, 303].includes(login.status), `login: ${login.status} ${await login.text()}`);
  const callback = new URL(login.headers.get('location'));
  assert.equal(callback.origin + callback.pathname, `${appURL}/callback`);

  const done = await fetch(callback);
  const text = await done.text();
  assert.equal(done.status, 200, text);
  const { scope, bundle } = JSON.parse(text);
  assert.equal(scope, 'user/*.rs');
  assert.equal(bundle.resourceType, 'Bundle');
  assert.ok(bundle.total > 0, 'the search with the launched token found nothing');
});

test('fhirclient standalone launch: a wrong password stays on the login page', async () => {
  const launch = await fetch(`${appURL}/launch`, { redirect: 'manual' });
  const authorize = new URL(launch.headers.get('location'));
  const form = hiddenFields(await (await fetch(authorize)).text());
  form.set('username', '555555555555');
  form.set('password', 'not-the-password');
  const login = await fetch(authorize, { method: 'POST', redirect: 'manual', body: form });
  assert.equal(login.status, 401);
  assert.equal(login.headers.get('location'), null);
});
