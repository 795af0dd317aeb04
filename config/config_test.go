package config

import (
	"io"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Run("no configuration runs the embedded sandbox with its identities and detail calls on", func(t *testing.T) {
		c, err := Load(nil, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Sandbox() || !c.Detailed || c.SpineASID != SandboxASID {
			t.Errorf("got sandbox=%v detailed=%v asid=%q", c.Sandbox(), c.Detailed, c.SpineASID)
		}
		if got, want := c.BaseURL, "http://127.0.0.1:8080/FHIR/R4"; got != want {
			t.Errorf("BaseURL = %q, want %q", got, want)
		}
	})
	t.Run("a real Spine turns the detail calls off by default", func(t *testing.T) {
		c, err := Load(nil, env(map[string]string{
			"SPINE_BASE_URL": "https://spine.example", "SPINE_CLIENT_CERT": "c", "SPINE_CLIENT_KEY": "k",
			"SPINE_CA_CERT": "ca", "SPINE_ASID": "123456789012",
		}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Sandbox() || c.Detailed {
			t.Errorf("got sandbox=%v detailed=%v, want both false", c.Sandbox(), c.Detailed)
		}
	})
	t.Run("every problem is reported at once", func(t *testing.T) {
		_, err := Load(nil, env(map[string]string{
			"SPINE_BASE_URL": "http://spine.example", "SPINE_ASID": "12", "EPS_FHIR_TLS_CERT": "x",
			"SPINE_DETAILED_INTERACTIONS": "maybe", "EPS_SANDBOX_PATIENTS": "-1", "SPINE_USER_ID": "abc",
		}), io.Discard)
		if err == nil {
			t.Fatal("want an error")
		}
		for _, want := range []string{"SPINE_BASE_URL", "SPINE_CLIENT_CERT", "SPINE_CLIENT_KEY", "SPINE_CA_CERT",
			"SPINE_ASID", "EPS_FHIR_TLS_CERT", "SPINE_DETAILED_INTERACTIONS", "EPS_SANDBOX_PATIENTS", "SPINE_USER_ID"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %s:\n%v", want, err)
			}
		}
	})
	t.Run("the base URL is never taken from anything but configuration", func(t *testing.T) {
		c, err := Load([]string{"--addr", "0.0.0.0:9000"}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.BaseURL, "http://localhost:9000/FHIR/R4"; got != want {
			t.Errorf("BaseURL = %q, want %q", got, want)
		}
		c, err = Load(nil, env(map[string]string{"EPS_FHIR_BASE_URL": "https://fhir.example.nhs.uk/FHIR/R4/"}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.BaseURL, "https://fhir.example.nhs.uk/FHIR/R4"; got != want {
			t.Errorf("BaseURL = %q, want %q", got, want)
		}
	})
}
