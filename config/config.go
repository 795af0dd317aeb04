// Package config loads the adapter's configuration from the environment and flags, and checks it
// whole: every problem is reported at once, before anything starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Identities the embedded sandbox is called with: the ASID, user and role of the T-111 sample request
// (SPEC 1.4). A real Spine needs the ASID its endpoint was registered with.
const (
	SandboxASID          = "200000000946"
	SandboxUserID        = "313175813564"
	SandboxRoleProfileID = "562926913100"
)

// Config is everything the adapter needs to start.
type Config struct {
	// Spine. An empty SpineBaseURL means: run the embedded sandbox and talk to it.
	SpineBaseURL       string
	SpineClientCert    string
	SpineClientKey     string
	SpineCACert        string
	SpineASID          string
	SpineUserID        string
	SpineRoleProfileID string
	SpineTimeout       time.Duration
	Detailed           bool // use the 111 detail interaction for medication

	// The FHIR server.
	Addr    string // EPS_FHIR_ADDR
	BaseURL string // EPS_FHIR_BASE_URL: the public base used in absolute links
	// BaseURLDerived is true when BaseURL came from Addr: main derives it again from the address it
	// really listens on (port 0 picks one).
	BaseURLDerived bool
	TLSCert        string
	TLSKey         string

	SandboxPatients int

	// PageKey signs paging tokens (EPS_FHIR_PAGE_KEY): give every instance behind one base URL the
	// same key, so that any of them can follow another's links. Empty: a random key per process.
	PageKey []byte
}

// RequestTimeout is the budget for all of one request's work with Spine: a read makes two calls in
// turn (retrieve, then item details), so twice the Spine deadline and a little more.
func (c *Config) RequestTimeout() time.Duration { return 2*c.SpineTimeout + 2*time.Second }

// Sandbox reports whether the adapter runs with its embedded Spine sandbox.
func (c *Config) Sandbox() bool { return c.SpineBaseURL == "" }

// Load reads the configuration from getenv, with flags in args overriding it, and validates it.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	var problems []error
	env := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	boolEnv := func(key string, def bool) bool {
		v := env(key, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s=%q: want true or false", key, v))
		}
		return b
	}

	c := &Config{
		SpineBaseURL:    env("SPINE_BASE_URL", ""),
		SpineClientCert: env("SPINE_CLIENT_CERT", ""),
		SpineClientKey:  env("SPINE_CLIENT_KEY", ""),
		SpineCACert:     env("SPINE_CA_CERT", ""),
		Addr:            env("EPS_FHIR_ADDR", "127.0.0.1:8080"),
		BaseURL:         env("EPS_FHIR_BASE_URL", ""),
		TLSCert:         env("EPS_FHIR_TLS_CERT", ""),
		TLSKey:          env("EPS_FHIR_TLS_KEY", ""),
		SpineTimeout:    10 * time.Second,
	}
	if c.Sandbox() {
		c.SpineASID = env("SPINE_ASID", SandboxASID)
		c.SpineUserID = env("SPINE_USER_ID", SandboxUserID)
		c.SpineRoleProfileID = env("SPINE_ROLE_PROFILE_ID", SandboxRoleProfileID)
	} else {
		c.SpineASID = env("SPINE_ASID", "")
		c.SpineUserID = env("SPINE_USER_ID", "")
		c.SpineRoleProfileID = env("SPINE_ROLE_PROFILE_ID", "")
	}
	// The 111 detail calls need a smartcard-authenticated user on a real Spine (SPEC 1.3).
	c.Detailed = boolEnv("SPINE_DETAILED_INTERACTIONS", c.Sandbox())
	if v := env("SPINE_TIMEOUT", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Errorf("SPINE_TIMEOUT=%q: want a positive duration such as 10s", v))
		}
		c.SpineTimeout = d
	}
	if v := env("EPS_SANDBOX_PATIENTS", "0"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10_000_000 {
			problems = append(problems, fmt.Errorf("EPS_SANDBOX_PATIENTS=%q: want a whole number from 0 to 10000000", v))
		}
		c.SandboxPatients = n
	}

	if v := env("EPS_FHIR_PAGE_KEY", ""); v != "" {
		if len(v) < 32 {
			problems = append(problems, errors.New("EPS_FHIR_PAGE_KEY: want at least 32 characters of secret"))
		}
		c.PageKey = []byte(v)
	}

	fs := flag.NewFlagSet("eps-fhir-tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (EPS_FHIR_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public FHIR base URL (EPS_FHIR_BASE_URL)")
	fs.StringVar(&c.SpineBaseURL, "spine-base-url", c.SpineBaseURL, "Spine base URL; empty runs the embedded sandbox (SPINE_BASE_URL)")
	fs.IntVar(&c.SandboxPatients, "sandbox-patients", c.SandboxPatients, "generated sandbox patients (EPS_SANDBOX_PATIENTS)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	if c.BaseURL == "" {
		c.BaseURL = DeriveBaseURL(c.Addr, c.TLSCert != "")
		c.BaseURLDerived = true
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	problems = append(problems, c.validate())
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return c, nil
}

// DeriveBaseURL builds the public base from a listen address, never from a request's Host header.
func DeriveBaseURL(addr string, https bool) string {
	scheme := "http"
	if https {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + "/FHIR/R4"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/FHIR/R4"
}

func (c *Config) validate() error {
	var problems []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Errorf("EPS_FHIR_ADDR=%q: want host:port", c.Addr))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("EPS_FHIR_BASE_URL=%q: want an absolute http(s) URL", c.BaseURL))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		problems = append(problems, errors.New("EPS_FHIR_TLS_CERT and EPS_FHIR_TLS_KEY go together: set both or neither"))
	}
	if !c.Sandbox() {
		if u, err := url.Parse(c.SpineBaseURL); err != nil || u.Scheme != "https" || u.Host == "" {
			problems = append(problems, fmt.Errorf("SPINE_BASE_URL=%q: want an absolute https URL", c.SpineBaseURL))
		}
		for _, f := range []struct{ name, value string }{
			{"SPINE_CLIENT_CERT", c.SpineClientCert},
			{"SPINE_CLIENT_KEY", c.SpineClientKey},
			{"SPINE_CA_CERT", c.SpineCACert},
		} {
			if f.value == "" {
				problems = append(problems, fmt.Errorf("%s is required with SPINE_BASE_URL (Spine requires mutual TLS)", f.name))
			}
		}
	}
	if !tracker.ValidASID(c.SpineASID) {
		problems = append(problems, fmt.Errorf("SPINE_ASID=%q: want the 12-digit ASID Spine registered", c.SpineASID))
	}
	if c.SpineUserID != "" && !tracker.ValidUserID(c.SpineUserID) {
		problems = append(problems, fmt.Errorf("SPINE_USER_ID=%q: want 12 digits", c.SpineUserID))
	}
	if c.SpineRoleProfileID != "" && !tracker.ValidRoleProfileID(c.SpineRoleProfileID) {
		problems = append(problems, fmt.Errorf("SPINE_ROLE_PROFILE_ID=%q: want 12 digits", c.SpineRoleProfileID))
	}
	return errors.Join(problems...)
}
