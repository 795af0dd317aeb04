package sandbox

// The documented test patients. Every NHS number passes the modulus 11 check; most are the NHS numbers
// of the real example payloads, so the sandbox answers look like those examples.
const (
	// PatientAcuteAndRepeat has acute and repeat-prescribing prescriptions, R1 and R2, inside the
	// default 28-day window, and an older claimed one outside it (the FHIR-API doc's example patient).
	PatientAcuteAndRepeat = "9691003120"
	// PatientRepeatDispensing has two repeat-dispensing (eRD) prescriptions with past, current and
	// future issues: a weekly one inside the window and a 28-day one started 60 days ago.
	PatientRepeatDispensing = "9912003489"
	// PatientR1 has only EPS Release 1 prescriptions (long-form IDs), as the real 111 examples do.
	PatientR1 = "9467157349"
	// PatientAllStatuses shows every prescription status and every line-item status, pending and
	// applied cancellations, and a post-dated prescription (only found with a future latestDate).
	PatientAllStatuses = "9449304106"
	// PatientRepeatPrescribing has monthly repeat-prescribing prescriptions: the latest is
	// With Dispenser - Active with an owing item, the two before it lie outside the default window.
	PatientRepeatPrescribing = "9691003139"
	// PatientOnlyOld has only prescriptions older than 28 days: a default search finds nothing.
	PatientOnlyOld = "9912003446"
	// PatientNoPrescriptions has no prescriptions at all.
	PatientNoPrescriptions = "9691003147"
	// PatientManyItems has 15 prescriptions with 4 line items each (60) inside the window.
	PatientManyItems = "9990000018"

	// Fault patients: searching for them (basic or 111) triggers the fault named.
	PatientFaultLatency   = "9990000026" // answers after about a second
	PatientFaultHTTP500   = "9990000034" // HTTP 500 without JSON
	PatientFaultMalformed = "9990000042" // HTTP 200 with truncated JSON
	PatientFaultStatus5   = "9990000050" // statusCode 5 "Unexpected exception"
	PatientFaultHang      = "9990000069" // never answers; returns when the client gives up
	PatientFaultReset     = "9990000077" // connection dropped without an answer
)

// Key prescription IDs of the documented data set. All pass tracker.ValidPrescriptionID.
const (
	// PatientAcuteAndRepeat.
	RxR1AcuteWithDispenser     = "9BA2F6BD-14FD-6F8B-E050-D20AE3A254FDA" // R1, acute, 0002
	RxR1RepeatWithDispenser    = "9BA2F6BD-14FE-6F8B-E050-D20AE3A254FDI" // R1, repeat prescribing, 0002
	RxAcuteDispensed           = "3AF2CB-C86002-0000BX"                  // acute, 0006, one item not dispensed
	RxRepeatPrescribingClaimed = "5E21A0-C86002-00012S"                  // repeat prescribing, 0008
	RxAcuteToBeDispensed       = "6C0F3B-C86002-00013Q"                  // acute, 0001, nominated
	RxAcuteOldClaimed          = "1D7E44-C86002-00007S"                  // acute, 0008, 45 days old

	// PatientRepeatDispensing.
	RxRepeatDispensing    = "A3B4D9-Z42475-11E6B+" // weekly eRD: issues 1-2 done, 3 current (0003), 4-6 future
	RxRepeatDispensingOld = "2D35F7-ZA0448-11E88Z" // 28-day eRD from 60 days ago: 3 current (0001), 4-6 future

	// PatientR1.
	RxR1Acute             = "9C18AE6F-510C-F7A3-E050-D20AE3A231C8C" // R1 acute, 0002
	RxR1RepeatPrescribing = "9C18AE6F-510D-F7A3-E050-D20AE3A231C8K" // R1 repeat prescribing, 0002

	// PatientAllStatuses: one prescription per status.
	RxAwaitingReleaseReady      = "4B8D21-A99968-4E01A8" // 0000
	RxToBeDispensed             = "4B8D22-A99968-4E02BD" // 0001, one item cancelled
	RxPendingCancellation       = "4B8D23-A99968-4E03CI" // 0002 with pendingCancellations "True"
	RxWithDispenserActive       = "010E34-A99968-467D9Z" // 0003, items 0001 0003 0004 0008
	RxExpired                   = "4B8D24-A99968-4E04DN" // 0004
	RxCancelled                 = "4B8D25-A99968-4E05ES" // 0005
	RxDispensed                 = "012339-A99968-4234AN" // 0006
	RxNotDispensed              = "021949-A99968-42DF9G" // 0007
	RxClaimed                   = "003D4D-A99968-4C5AAJ" // 0008
	RxNoClaimed                 = "030E79-A99968-4A6DAS" // 0009
	RxFutureDated               = "4B8D26-A99968-4E06FX" // 9001, effective in 5 days
	RxRepeatDispensingCancelled = "4B8D27-A99968-4E070X" // eRD: 1 dispensed, 2 cancelled (0005), 3-4 9005

	// PatientRepeatPrescribing.
	RxRepeatPrescribingActive = "48A894-C86002-00009E" // 0003, items 0004 (owing) and 0001

	// PatientOnlyOld.
	RxOldClaimed = "000136-ZC2D5C-11E38N" // acute, 0008, 40 days old
)

// Patient is one documented test patient.
type Patient struct {
	NHSNumber string
	Summary   string
}

// Patients lists the documented test patients, in the order of the README table.
var Patients = []Patient{
	{PatientAcuteAndRepeat, "Acute and repeat prescribing, R1 and R2, inside the 28-day window; one older claimed acute"},
	{PatientRepeatDispensing, "Repeat dispensing with past, current and future issues (weekly eRD in the window, 28-day eRD from 60 days ago)"},
	{PatientR1, "EPS Release 1 prescriptions only (long-form IDs)"},
	{PatientAllStatuses, "Every prescription status and line-item status; pending and applied cancellations; a post-dated prescription"},
	{PatientRepeatPrescribing, "Monthly repeat prescribing: latest With Dispenser - Active (owing item), two older outside the window"},
	{PatientOnlyOld, "Only prescriptions older than 28 days: a default search is empty"},
	{PatientNoPrescriptions, "No prescriptions at all"},
	{PatientManyItems, "15 prescriptions x 4 line items inside the window, for benchmarks"},
	{PatientFaultLatency, "Fault: searches answer after about 1s"},
	{PatientFaultHTTP500, "Fault: searches get HTTP 500 without JSON"},
	{PatientFaultMalformed, "Fault: searches get truncated JSON"},
	{PatientFaultStatus5, `Fault: searches get statusCode 5 "Unexpected exception"`},
	{PatientFaultHang, "Fault: searches never answer (until the client gives up)"},
	{PatientFaultReset, "Fault: searches get the connection dropped"},
}

// patientFaults maps the fault patients to their fault.
var patientFaults = map[string]Fault{
	PatientFaultLatency:   {Kind: FaultLatency, Latency: defaultLatency},
	PatientFaultHTTP500:   {Kind: FaultHTTP500},
	PatientFaultMalformed: {Kind: FaultMalformed},
	PatientFaultStatus5:   {Kind: FaultStatus5},
	PatientFaultHang:      {Kind: FaultHang},
	PatientFaultReset:     {Kind: FaultReset},
}
