// SMART's fhirclient (https://github.com/smart-on-fhir/client-js), the client SMART apps are built on,
// against the running adapter with the sandbox token in its server-side state (its documented Node
// usage: smart(req, res).client(state)). resolveReferences mounts each resolved resource in place of
// its reference, and on a 404 only logs and carries on, so these tests check what was mounted.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import smart from 'fhirclient';
import { base, token, nhsNumber, patients } from './env.mjs';

const paths = { requester: 'Organization', subject: 'Patient', 'dispenseRequest.performer': 'Organization' };
const resolveReferences = Object.keys(paths);

// No request or response is needed for a client whose token is already known.
const client = smart({}, {}).client({ serverUrl: base, tokenResponse: { access_token: token, token_type: 'Bearer' } });

// fhirclient reports a reference that failed with 404 only through console.warn: keep those messages
// so a failure can name them.
let warnings = [];
const warn = console.warn;
beforeEach(() => {
  warnings = [];
  console.warn = (...args) => warnings.push(args.join(' '));
});
afterEach(() => { console.warn = warn; });

function get(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

// checkMounted returns, per path, how many references were mounted, and the problems: a reference
// left in place (not resolved) or a resource of the wrong type or without an id.
function checkMounted(requests) {
  const mounted = Object.fromEntries(resolveReferences.map((p) => [p, 0]));
  const problems = [];
  for (const mr of requests) {
    for (const [path, type] of Object.entries(paths)) {
      const node = get(mr, path);
      if (node === undefined) continue;
      if (node.resourceType === type && node.id) {
        mounted[path]++;
        if (path === 'subject') assert.equal(node.identifier?.[0]?.system, nhsNumber);
      } else {
        problems.push(`MedicationRequest/${mr.id} ${path}: ${JSON.stringify(node)} was not replaced by a ${type}`);
      }
    }
  }
  return { mounted, problems };
}

test('fhirclient: a patient search with resolveReferences mounts every reference on every entry', async () => {
  const url = `MedicationRequest?patient:identifier=${encodeURIComponent(`${nhsNumber}|${patients.acuteAndRepeat}`)}` +
    '&_include=MedicationRequest:requester';
  // pageLimit 0 follows every next link; flat gives the entry resources.
  const resources = await client.request(url, { resolveReferences, pageLimit: 0, flat: true });
  const requests = resources.filter((r) => r.resourceType === 'MedicationRequest');
  assert.ok(requests.length >= 5, `only ${requests.length} MedicationRequests`);
  const { mounted, problems } = checkMounted(requests);
  assert.deepEqual(problems, [], `fhirclient warned: ${warnings.join('; ')}`);
  for (const path of ['requester', 'subject']) {
    assert.equal(mounted[path], requests.length, `${path} mounted on ${mounted[path]} of ${requests.length} entries`);
  }
  assert.ok(mounted['dispenseRequest.performer'] > 0, 'no dispenseRequest.performer to mount: the test proves nothing about it');
  assert.deepEqual(warnings, []);
});

test('fhirclient: a default patient search (no _include) mounts every reference (issue 9)', async () => {
  // The repeat-prescribing patient is searched nowhere else with includes, so its organisations
  // resolve only if the default search taught the adapter about them.
  const url = `MedicationRequest?patient:identifier=${encodeURIComponent(`${nhsNumber}|${'9691003139'}`)}`;
  const resources = await client.request(url, { resolveReferences, pageLimit: 0, flat: true });
  const requests = resources.filter((r) => r.resourceType === 'MedicationRequest');
  assert.ok(requests.length > 0);
  const { mounted, problems } = checkMounted(requests);
  assert.deepEqual(problems, [], `fhirclient warned: ${warnings.join('; ')}`);
  assert.equal(mounted.subject, requests.length);
  assert.equal(mounted.requester, requests.length, 'entries without requester: the default search is not the full form');
});

test('fhirclient: a read with resolveReferences mounts requester, subject and dispenseRequest.performer', async () => {
  const mr = await client.request('MedicationRequest/A3B4D9-Z42475-11E6B.-3-1', { resolveReferences });
  assert.equal(mr.resourceType, 'MedicationRequest');
  const { mounted, problems } = checkMounted([mr]);
  assert.deepEqual(problems, [], `fhirclient warned: ${warnings.join('; ')}`);
  assert.deepEqual(mounted, { requester: 1, subject: 1, 'dispenseRequest.performer': 1 });
  assert.equal(mr.subject.id, patients.repeatDispensing);
});

test('fhirclient: a MedicationDispense read mounts its authorizingPrescription and performer', async () => {
  const md = await client.request('MedicationDispense/d-3AF2CB-C86002-0000BX-1-1', {
    resolveReferences: ['authorizingPrescription', 'subject', 'performer..actor'],
  });
  assert.deepEqual(warnings, []);
  assert.equal(md.authorizingPrescription?.[0]?.resourceType, 'MedicationRequest', JSON.stringify(md.authorizingPrescription));
  assert.equal(md.authorizingPrescription[0].id, '3AF2CB-C86002-0000BX-1-1');
  assert.equal(md.subject?.resourceType, 'Patient', JSON.stringify(md.subject));
  assert.equal(md.performer?.[0]?.actor?.resourceType, 'Organization', JSON.stringify(md.performer));
});

test('fhirclient: paging with pageLimit 0 returns every item once', async () => {
  const url = `MedicationRequest?patient:identifier=${patients.manyItems}&_count=9`;
  const resources = await client.request(url, { pageLimit: 0, flat: true });
  const ids = resources.filter((r) => r.resourceType === 'MedicationRequest').map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'an item came twice');
  assert.equal(ids.length, 60);
});

test('fhirclient: without a token a search is refused with 401', async () => {
  const anonymous = smart({}, {}).client({ serverUrl: base });
  await assert.rejects(anonymous.request(`MedicationRequest?patient:identifier=${patients.acuteAndRepeat}`),
    (err) => {
      assert.equal(err.status, 401, String(err));
      return true;
    });
});
