// Package mapping turns the tracker's typed model into FHIR R4 resources (google/fhir protos), and
// FHIR search parameters into tracker queries.
//
// Everything here is a pure function of its inputs: no context, logger, clock, HTTP or telemetry.
// The contract is section 4 of the adapter's FHIR-API.md; the code tables are section 4 of the EPS
// Tracker's SPEC.md. Where Spine's data cannot be mapped (an unknown status or treatment code, a
// malformed identifier, 111 text the tracker could not map back to a code) the functions return an
// error: an upstream fault, never a guess.
//
// Choices made here, beyond the contract:
//
//   - Resource ids are deterministic and reversible (see MedicationRequestID); a MedicationDispense
//     takes its MedicationRequest's id with a "d-" prefix.
//   - The line-item UUID is shown lower-cased, as NHS England's EPS FHIR API shows it; joins with the 111
//     interactions compare it case-insensitively.
//   - The line-item status is shown as the dispenseStatus of Extension-EPS-DispensingInformation on the
//     MedicationRequest and as MedicationDispense.type (https://fhir.nhs.uk/CodeSystem/medicationdispense-type).
//   - Extension-EPS-RepeatInformation follows NHS England's Clinical Prescription Tracker:
//     numberOfRepeatsIssued is the issue number shown and numberOfRepeatsAllowed the number of issues
//     authorised, while dispenseRequest.numberOfRepeatsAllowed (FHIR's meaning: repeats after the first)
//     is one less.
//   - The dispensing organisation is the MedicationDispense's performer: no NHS extension on the
//     MedicationRequest carries it.
//   - Spine's lastEventDate is meta.lastUpdated; a resource built from a search's summary is tagged
//     SUBSETTED.
//   - The 111 data joins a line item on its UUID; a search gives none, so there it joins only when the
//     issue has a single line and the 111 data a single item. Several lines are never matched by order.
//   - A medication with no name carries only a data-absent-reason: unknown, or error when the 111
//     details were asked for but could not be read (Source.DetailFailed), so a client can tell a
//     transient failure from data Spine does not hold.
package mapping
