// What a browser-based SMART app needs before any client library runs: a CORS preflight that lets it
// send Authorization from a configured origin, the headers it may read, and SMART discovery where
// fhirclient looks for it. Plain fetch, sending exactly what a browser sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, token, origin, corsOrigin, patients } from './env.mjs';

const search = `${base}/MedicationRequest?patient:identifier=${patients.acuteAndRepeat}`;

function list(header) {
  return (header || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

test('CORS: a preflight from the configured origin allows GET with Authorization', async () => {
  const res = await fetch(search, { method: 'OPTIONS', headers: {
    Origin: corsOrigin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' } });
  assert.ok(res.status >= 200 && res.status < 300, `preflight status ${res.status}: ${await res.text()}`);
  assert.equal(res.headers.get('access-control-allow-origin'), corsOrigin);
  assert.ok(list(res.headers.get('access-control-allow-methods')).includes('get'), res.headers.get('access-control-allow-methods'));
  assert.ok(list(res.headers.get('access-control-allow-headers')).includes('authorization'), res.headers.get('access-control-allow-headers'));
  assert.ok(!(res.headers.get('access-control-allow-origin') === '*' && res.headers.get('access-control-allow-credentials') === 'true'),
    'wildcard origin with credentials');
});

test('CORS: the answer to the real request is readable from the configured origin, with ETag exposed', async () => {
  const res = await fetch(search, { headers: { Origin: corsOrigin, Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, await res.text());
  assert.equal(res.headers.get('access-control-allow-origin'), corsOrigin);
  const exposed = list(res.headers.get('access-control-expose-headers'));
  for (const h of ['etag', 'location']) assert.ok(exposed.includes(h), `${h} not exposed: ${exposed}`);
  assert.match(res.headers.get('vary') || '', /origin/i, 'an answer that depends on Origin must say Vary: Origin');
});

test('CORS: a 401 is readable from the configured origin, so the app can see it must log in', async () => {
  const res = await fetch(search, { headers: { Origin: corsOrigin } });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('access-control-allow-origin'), corsOrigin);
  assert.ok(list(res.headers.get('access-control-expose-headers')).includes('www-authenticate'));
});

test('CORS: the sandbox issuer\'s token endpoint answers a browser app (public client, no credentials)', async () => {
  const pre = await fetch(`${origin}/oauth2/token`, { method: 'OPTIONS', headers: {
    Origin: corsOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
  assert.ok(pre.status >= 200 && pre.status < 300, `token preflight ${pre.status}`);
  const res = await fetch(`${origin}/oauth2/token`, { method: 'POST', headers: { Origin: corsOrigin },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code' }) });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_grant');
  assert.ok([corsOrigin, '*'].includes(res.headers.get('access-control-allow-origin')), 'a browser cannot read the token answer');
});

test('CORS: another origin is not allowed', async () => {
  const res = await fetch(search, { method: 'OPTIONS', headers: {
    Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' } });
  assert.equal(res.headers.get('access-control-allow-origin'), null);
});

test('SMART discovery at {base}/.well-known/smart-configuration names the sandbox issuer\'s endpoints', async () => {
  const res = await fetch(`${base}/.well-known/smart-configuration`, { headers: { Origin: corsOrigin } });
  assert.equal(res.status, 200);
  const conf = await res.json();
  assert.equal(conf.issuer, undefined); // SMART App Launch 2: only with sso-openid-connect, not offered
  assert.equal(conf.authorization_endpoint, `${origin}/oauth2/authorize`);
  assert.equal(conf.token_endpoint, `${origin}/oauth2/token`);
  assert.ok(conf.code_challenge_methods_supported?.includes('S256'));
  assert.ok(conf.capabilities?.includes('launch-standalone'));
  // SMART App Launch 2: jwks_uri is a URL when present; an empty string breaks clients that fetch it.
  if ('jwks_uri' in conf) {
    assert.doesNotThrow(() => new URL(conf.jwks_uri), `jwks_uri ${JSON.stringify(conf.jwks_uri)} is not a URL`);
  }
});
