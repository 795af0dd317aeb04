package routes

import (
	"strings"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Organizations remembers the organisations (prescribers, nominated and dispensing pharmacies) that
// Spine named in the answers this process has served, with what Spine said of them (name, address,
// phone), for Organization reads. Organisations are not patient data: one store serves every user,
// for hours, bounded in entries. An ODS code it does not hold (another instance's, from before a
// restart, or past the bound) is still read, as the code alone (mapping.OrganizationByCode), so that
// every Organization reference the adapter emits resolves everywhere.
type Organizations struct {
	orgs *gocache.Cache
	max  int
	mu   sync.Mutex // one merge at a time: the richer of two descriptions must not be overwritten
}

// NewOrganizations keeps at most max organisations (default 50,000) for ttl each (default 12h).
func NewOrganizations(max int, ttl time.Duration) *Organizations {
	if max <= 0 {
		max = 50_000
	}
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	return &Organizations{orgs: gocache.New(ttl, ttl/4), max: max}
}

// remember keeps the organisations src names. The richest description of an organisation wins: the
// 111 details add address and phone to the retrieve's code and name.
func (o *Organizations) remember(src mapping.Source) {
	add := func(org tracker.Organisation) {
		if mapping.Organization(org) == nil {
			return
		}
		key := strings.ToUpper(org.ODS)
		o.mu.Lock()
		defer o.mu.Unlock()
		if have, ok := o.get(key); ok {
			org = mapping.MergeOrganisation(have, org)
		} else if o.orgs.ItemCount() >= o.max {
			return
		}
		o.orgs.SetDefault(key, org)
	}
	orgs, err := mapping.Organisations(src)
	if err != nil {
		return // unmappable: the answer fails where it is mapped, and says why
	}
	for _, org := range orgs {
		add(org)
	}
}

func (o *Organizations) get(ods string) (tracker.Organisation, bool) {
	v, ok := o.orgs.Get(strings.ToUpper(ods))
	if !ok {
		return tracker.Organisation{}, false
	}
	return v.(tracker.Organisation), true
}
