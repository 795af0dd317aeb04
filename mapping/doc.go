// Package mapping turns the tracker's typed model into FHIR R4 resources (google/fhir protos), and
// FHIR search parameters into tracker queries.
//
// Everything here is a pure function of its inputs: no context, logger, clock, HTTP or telemetry.
// The contract is section 4 of the adapter's FHIR-API.md; the code tables are section 4 of the EPS
// Tracker's SPEC.md. Where Spine's data cannot be mapped (an unknown status or treatment code, a
// malformed identifier, 111 text the tracker could not map back to a code) the functions return an
// error: an upstream fault, never a guess.
//
// Choices made here, beyond the contract, each following NHS England's own mappings (the EPS FHIR
// API's translators, the Clinical Prescription Tracker (CPT), the NHSDigital-MedicationDispense
// profile) where they have a convention:
//
//   - Resource ids are deterministic and reversible (see MedicationRequestID); a MedicationDispense
//     takes its MedicationRequest's id with a "d-" prefix.
//   - The line-item UUID is shown lower-cased, as NHS England's EPS FHIR API shows it; joins with the 111
//     interactions compare it case-insensitively.
//   - The line-item status is shown as the dispenseStatus of Extension-EPS-DispensingInformation on the
//     MedicationRequest and as MedicationDispense.type (https://fhir.nhs.uk/CodeSystem/medicationdispense-type),
//     with CPT's display texts ("Item not dispensed - owing", "Item to be dispensed"), which differ
//     from Spine's statusText for 0004 and 0007.
//   - authoredOn is the issue date (Spine's prescriptionIssueDate, what its search dates and filters
//     by) in every form where any interaction gives it: a retrieve carries none, so its Source may
//     bring the search's (Source.IssueDate), else the 111 data's is used, else it is absent. The
//     signing date is left out: R4's MedicationRequest has no element for it (NHS England carries the
//     signature in a Provenance), and showing it as authoredOn gave one id two authoredOn values.
//   - Repeats, one number with one meaning: dispenseRequest.numberOfRepeatsAllowed is the issues
//     authorised - 1 (FHIR counts repeats after the first), and the issue shown is UK Core's
//     Extension-UKCore-MedicationRepeatInformation numberOfPrescriptionsIssued, as NHS England puts it
//     on a MedicationRequest. EPS's Extension-EPS-RepeatInformation is not used: NHS England puts it
//     on a Task or RequestGroup, with numberOfRepeatsAllowed counting issues. Repeat prescribing
//     carries the UK Core extension only when more than one issue is known to be authorised.
//   - Extension-EPS-DispensingReleaseInformation (dateLastIssuedDispensed, dateDownloaded,
//     dateClaimed) is on the MedicationRequest when the 111 details give those dates for the issue
//     shown: the adapter has no Task, where the EPS FHIR API puts it.
//   - A MedicationDispense exists only where a pharmacy acted on the item (0001 completed, 0002
//     declined, 0003 and 0004 in-progress); it carries the prescription's status
//     (Extension-EPS-TaskBusinessStatus, exactly one, as the NHSDigital-MedicationDispense profile
//     requires) and the line-item identifier where Spine gives the UUID. The dispensing organisation
//     is its performer: no NHS extension on the MedicationRequest carries it.
//   - Spine's lastEventDate is meta.lastUpdated; a resource built from a search's summary is tagged
//     SUBSETTED, and so is a Patient, which holds only the NHS number.
//   - The 111 data joins a line item on its UUID; a search gives none, so there it joins only when the
//     issue has a single line and the 111 data a single item. Several lines are never matched by order.
//   - A medication with no name carries only a data-absent-reason: unknown, or error when the 111
//     details were asked for but could not be read (Source.DetailFailed), so a client can tell a
//     transient failure from data Spine does not hold.
//
// Resources share immutable sub-messages (code tables' codings, systems, extensions; see codes.go),
// within a response and across responses, so that mapping a page costs a few allocations per
// prescription. Never mutate a returned resource in place: clone it first. No shared sub-message holds
// a Reference, which google/fhir's jsonformat rewrites while marshalling.
package mapping
