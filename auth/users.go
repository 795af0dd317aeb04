package auth

// SandboxUser is a user of the sandbox issuer. Sandbox passwords are
// published in docs/sandbox-users.md: they guard nothing but local test data.
type SandboxUser struct {
	UserID        string // 12 digits, as Spine requires
	Password      string
	Name          string
	Description   string
	RoleProfileID string // 12 digits; empty for the patient app
	OrgCode       string
	RoleCode      string
	ActivityCodes []string
	Scopes        []string // granted when a token request names none
	Smartcard     bool     // tokens carry authentication_assurance_level 3
	Patient       string   // a patient launch context: the adapter refuses such tokens
}

// SandboxUsers are the sandbox issuer's users, one for each kind of access
// the adapter must grant or refuse.
var SandboxUsers = []SandboxUser{
	{
		UserID: "555555555555", Password: "sandbox-prescriber", Name: "Dr Sandbox Prescriber",
		Description:   "prescriber (GP) with clinical access: allowed",
		RoleProfileID: "666666666666", OrgCode: "A83008", RoleCode: "S8000:G8000:R8000",
		ActivityCodes: []string{"B0570", "B0278"}, Scopes: []string{"user/*.rs"}, Smartcard: true,
	},
	{
		UserID: "555555555556", Password: "sandbox-pharmacist", Name: "Sandbox Pharmacist",
		Description:   "community pharmacist with clinical access: allowed",
		RoleProfileID: "666666666667", OrgCode: "FA565", RoleCode: "S8000:G8000:R8003",
		ActivityCodes: []string{"B0570"}, Scopes: []string{"user/*.rs"}, Smartcard: true,
	},
	{
		UserID: "555555555557", Password: "sandbox-administrator", Name: "Sandbox Administrator",
		Description:   "practice administrator without clinical access: 403",
		RoleProfileID: "666666666668", OrgCode: "A83008", RoleCode: "S8001:G8005:R8008",
		ActivityCodes: []string{"B0825"}, Scopes: []string{"user/*.rs"}, Smartcard: true,
	},
	{
		UserID: "555555555558", Password: "sandbox-auditor", Name: "Sandbox Auditor",
		Description:   "information governance auditor: AuditEvent allowed, clinical data 403",
		RoleProfileID: "666666666669", OrgCode: "A83008", RoleCode: "S8001:G8005:R5080",
		ActivityCodes: []string{SandboxAuditorCode}, Scopes: []string{"user/AuditEvent.rs"},
	},
	{
		UserID: "555555555560", Password: "sandbox-nurse", Name: "Sandbox Nurse (password login)",
		Description:   "clinician signed in with a password, not a smartcard: allowed, but a real Spine gives no medication",
		RoleProfileID: "666666666670", OrgCode: "A83008", RoleCode: "S8000:G8000:R8001",
		ActivityCodes: []string{"B0570"}, Scopes: []string{"user/*.rs"},
	},
	{
		UserID: "555555555559", Password: "sandbox-patient", Name: "Sandbox Patient App",
		Description: "patient-facing app with a patient launch context: 403",
		Scopes:      []string{"launch/patient", "patient/MedicationRequest.rs"}, Patient: "sandbox-patient-1",
	},
}

// sandboxUser finds a sandbox user by id.
func sandboxUser(userID string) (SandboxUser, bool) {
	for _, u := range SandboxUsers {
		if u.UserID == userID {
			return u, true
		}
	}
	return SandboxUser{}, false
}
