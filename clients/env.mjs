// Shared by the client tests: where the adapter is, the token to use, and a walk over the literal
// references in FHIR JSON. clients_test.go starts the adapter and sets the environment; to run by hand:
//   FHIR_BASE=http://127.0.0.1:8080/FHIR/R4 FHIR_TOKEN=$(go run . token) node --test
import process from 'node:process';

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run these tests through clients_test.go (go test -run TestRealFHIRClients .), or set FHIR_BASE and FHIR_TOKEN by hand`);
  }
  return v;
}

export const base = required('FHIR_BASE').replace(/\/+$/, '');
export const token = required('FHIR_TOKEN');
export const origin = new URL(base).origin;
// The browser origin the adapter was started with in EPS_CORS_ORIGINS.
export const corsOrigin = process.env.FHIR_CORS_ORIGIN || 'http://localhost:5173';

export const nhsNumber = 'https://fhir.nhs.uk/Id/nhs-number';
export const orderNumber = 'https://fhir.nhs.uk/Id/prescription-order-number';

// Sandbox test patients (tracker/sandbox/patients.go).
export const patients = {
  acuteAndRepeat: '9691003120',
  repeatDispensing: '9912003489',
  allStatuses: '9449304106',
  manyItems: '9990000018', // 15 prescriptions x 4 items, enough for many pages
};

// literalReferences lists every Reference.reference in a resource (or Bundle) that a client would GET:
// not contained (#id) and not a bundle-local urn. path is where it sits, for the failure message.
export function literalReferences(node, path = '') {
  const out = [];
  if (Array.isArray(node)) {
    node.forEach((v, i) => out.push(...literalReferences(v, `${path}[${i}]`)));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string' && !v.startsWith('#') && !v.startsWith('urn:')) {
        out.push({ path, reference: v });
      } else {
        out.push(...literalReferences(v, path ? `${path}.${k}` : k));
      }
    }
  }
  return out;
}

// matches are a searchset's search.mode=match resources (not includes, not the outcome entry).
export function matches(bundle) {
  return (bundle.entry || []).filter((e) => e.search?.mode === 'match').map((e) => e.resource);
}
