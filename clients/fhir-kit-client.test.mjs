// fhir-kit-client (https://github.com/Vermonster/fhir-kit-client), a FHIR client EHR integrators use,
// against the running adapter: discovery, searching, paging, reading, and resolving every literal
// reference it is given (issues 7 and 9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'fhir-kit-client';
import { base, token, origin, nhsNumber, orderNumber, patients, literalReferences, matches } from './env.mjs';

const client = new Client({ baseUrl: base, bearerToken: token });

// pages follows next links from the first page to the last, as an integrator would.
async function pages(searchParams) {
  const out = [];
  let page = await client.search({ resourceType: 'MedicationRequest', searchParams });
  while (page) {
    assert.equal(page.resourceType, 'Bundle');
    out.push(page);
    assert.ok(out.length <= 100, 'more than 100 pages: the next links loop');
    page = await client.nextPage({ bundle: page });
  }
  return out;
}

// describe names a failed request the way the report needs it: status and body.
function describe(err) {
  const status = err?.response?.status;
  const body = err?.response?.data;
  return status ? `HTTP ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}` : String(err);
}

// resolveAll resolves every distinct literal reference in the answers with a GET on the server (no
// bundle context, so an included copy cannot stand in for a missing read) and returns the failures.
async function resolveAll(answers) {
  const seen = new Map();
  for (const [where, resource] of answers) {
    for (const { path, reference } of literalReferences(resource)) {
      if (!seen.has(reference)) seen.set(reference, `${where} ${path}`);
    }
  }
  const failures = [];
  for (const [reference, where] of seen) {
    try {
      const got = await client.resolve({ reference });
      const [type, id] = reference.replace(/^.*\/([^/]+\/[^/]+)$/, '$1').split('/');
      if (got?.resourceType !== type || got?.id !== id) {
        failures.push(`${reference} (from ${where}): answered ${got?.resourceType}/${got?.id}`);
      }
    } catch (err) {
      failures.push(`${reference} (from ${where}): ${describe(err)}`);
    }
  }
  return { resolved: seen.size, failures };
}

test('discovery: the CapabilityStatement names the SMART endpoints (oauth-uris, SMART-on-FHIR service)', async () => {
  const cs = await client.capabilityStatement();
  const security = cs.rest?.[0]?.security || {};
  const services = (security.service || []).flatMap((s) => s.coding || []);
  assert.ok(services.some((c) => c.system === 'http://terminology.hl7.org/CodeSystem/restful-security-service' && c.code === 'SMART-on-FHIR'),
    `rest.security.service has no SMART-on-FHIR coding: ${JSON.stringify(security.service)}`);
  const uris = (security.extension || []).find((x) => x.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
  const uri = (name) => uris?.extension?.find((x) => x.url === name)?.valueUri;
  assert.equal(uri('authorize'), `${origin}/oauth2/authorize`, `rest.security.extension: ${JSON.stringify(security.extension)}`);
  assert.equal(uri('token'), `${origin}/oauth2/token`);
});

test('discovery: smartAuthMetadata finds the sandbox issuer', async () => {
  // fhir-kit-client races smart-configuration, metadata and openid-configuration and takes the first
  // answer: every one it can win with must name the issuer.
  const meta = await client.smartAuthMetadata();
  assert.equal(meta.authorizeUrl?.toString(), `${origin}/oauth2/authorize`);
  assert.equal(meta.tokenUrl?.toString(), `${origin}/oauth2/token`);
});

test('without a token a search gets 401 with WWW-Authenticate: Bearer', async () => {
  const anonymous = new Client({ baseUrl: base });
  await assert.rejects(
    anonymous.search({ resourceType: 'MedicationRequest', searchParams: { 'patient:identifier': `${nhsNumber}|${patients.acuteAndRepeat}` } }),
    (err) => {
      assert.equal(err.response?.status, 401, describe(err));
      assert.equal(err.response?.data?.resourceType, 'OperationOutcome');
      return true;
    });
  const res = await fetch(`${base}/MedicationRequest?patient:identifier=${patients.acuteAndRepeat}`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') || '', /^Bearer/);
});

test('paging through next links loses and repeats nothing, and the count is Bundle.total', async () => {
  const all = await pages({ 'patient:identifier': `${nhsNumber}|${patients.manyItems}`, _count: 7 });
  assert.ok(all.length >= 9, `60 items at 7 a page is 9 pages, got ${all.length}`);
  const total = all[0].total;
  assert.equal(total, 60, 'the sandbox has 60 items for this patient inside the default window');
  const ids = [];
  for (const [i, page] of all.entries()) {
    assert.equal(page.total, total, `page ${i + 1} changed Bundle.total`);
    const m = matches(page);
    assert.ok(m.length <= 7, `page ${i + 1} has ${m.length} matches for _count=7`);
    assert.ok(m.length > 0 || i === 0, `page ${i + 1} is empty but was linked`);
    ids.push(...m.map((r) => r.id));
  }
  const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(repeated, [], 'ids repeated across pages');
  assert.equal(ids.length, total, 'entries over all pages vs Bundle.total');
});

test('a read answers the MedicationRequest with that id', async () => {
  const id = '3AF2CB-C86002-0000BX-1-1';
  const mr = await client.read({ resourceType: 'MedicationRequest', id });
  assert.equal(mr.resourceType, 'MedicationRequest');
  assert.equal(mr.id, id);
  assert.equal(mr.groupIdentifier?.value, '3AF2CB-C86002-0000BX');
  assert.equal(mr.subject?.reference, `Patient/${patients.acuteAndRepeat}`);
  assert.match(mr.requester?.reference || '', /^Organization\//, 'a read is the full form: it names the prescriber');
  await assert.rejects(client.read({ resourceType: 'MedicationRequest', id: '3AF2CB-C86002-0000BX-1-9' }),
    (err) => err.response?.status === 404);
});

test('every literal reference in a default patient search resolves (full form by default, issue 9)', async () => {
  // The R1 patient's organisations appear in no other test, so they resolve only if a default
  // patient search is what taught the adapter about them.
  const all = await pages({ 'patient:identifier': `${nhsNumber}|9467157349` });
  const found = all.flatMap(matches);
  assert.ok(found.length > 0, 'the R1 patient has prescriptions in the window');
  const summary = found.filter((mr) => !mr.requester);
  assert.deepEqual(summary.map((mr) => mr.id), [], 'default patient search entries without requester (summary form)');
  const { resolved, failures } = await resolveAll(all.map((b, i) => [`default search page ${i + 1}`, b]));
  assert.ok(resolved >= 2, `only ${resolved} references to resolve`);
  assert.deepEqual(failures, []);
});

test('every literal reference in searches with includes, group-identifier searches and reads resolves', async () => {
  const answers = [];
  for (const nhs of [patients.acuteAndRepeat, patients.repeatDispensing, patients.allStatuses]) {
    const all = await pages({
      'patient:identifier': `${nhsNumber}|${nhs}`,
      _include: 'MedicationRequest:requester',
      _revinclude: 'MedicationDispense:prescription',
    });
    all.forEach((b, i) => answers.push([`patient search ${nhs} page ${i + 1}`, b]));
  }
  // A '+' in a prescription ID becomes '.' in resource ids: the references must still resolve.
  for (const rx of ['3AF2CB-C86002-0000BX', 'A3B4D9-Z42475-11E6B+', '010E34-A99968-467D9Z']) {
    const b = await client.search({ resourceType: 'MedicationRequest',
      searchParams: { 'group-identifier': `${orderNumber}|${rx}`, _revinclude: 'MedicationDispense:prescription' } });
    assert.ok(matches(b).length > 0, `group-identifier ${rx} found nothing`);
    answers.push([`group-identifier ${rx}`, b]);
  }
  answers.push(['read MedicationRequest', await client.read({ resourceType: 'MedicationRequest', id: 'A3B4D9-Z42475-11E6B.-3-1' })]);
  answers.push(['read MedicationDispense', await client.read({ resourceType: 'MedicationDispense', id: 'd-3AF2CB-C86002-0000BX-1-1' })]);

  const kinds = new Set(answers.flatMap(([, r]) => literalReferences(r).map((x) => x.reference.split('/')[0])));
  for (const want of ['Patient', 'Organization', 'MedicationRequest']) {
    assert.ok(kinds.has(want), `no ${want} reference in any answer: the sweep proves nothing about it`);
  }
  const { resolved, failures } = await resolveAll(answers);
  assert.ok(resolved >= 10, `only ${resolved} distinct references`);
  assert.deepEqual(failures, []);
});

test('every fullUrl in a searchset is readable at that URL', async () => {
  const b = await client.search({ resourceType: 'MedicationRequest', searchParams: {
    'patient:identifier': `${nhsNumber}|${patients.acuteAndRepeat}`,
    _include: 'MedicationRequest:requester', _revinclude: 'MedicationDispense:prescription' } });
  const failures = [];
  const urls = (b.entry || []).map((e) => e.fullUrl).filter(Boolean);
  assert.ok(urls.length > 3);
  for (const url of urls) {
    try {
      const got = await client.resolve({ reference: url });
      if (!url.endsWith(`/${got.resourceType}/${got.id}`)) failures.push(`${url}: answered ${got.resourceType}/${got.id}`);
    } catch (err) {
      failures.push(`${url}: ${describe(err)}`);
    }
  }
  assert.deepEqual(failures, []);
});
