package telemetry

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultServiceName is the service.name when OTEL_SERVICE_NAME is unset.
const DefaultServiceName = "eps-fhir-tracker"

// Config is what Setup needs. The OTEL_* variables are read through Getenv, the same injected getenv
// as the rest of the configuration, so tests never touch the process environment.
type Config struct {
	// Getenv reads OTEL_* variables; nil reads nothing (all defaults: nothing exported).
	Getenv func(string) string
	// ServiceVersion becomes service.version on every span and metric.
	ServiceVersion string
	// Console is where OTEL_TRACES_EXPORTER=console writes; nil means io.Discard.
	Console io.Writer

	// SpanExporter, when set, replaces what OTEL_TRACES_EXPORTER selects. Tests pass a
	// tracetest.InMemoryExporter and call Telemetry.ForceFlush before reading it.
	SpanExporter sdktrace.SpanExporter
	// MetricReader, when set, is registered beside the Prometheus reader. Tests pass a
	// sdkmetric.ManualReader.
	MetricReader sdkmetric.Reader
	// QueueSize bounds the spans waiting for export (default 2048); beyond it spans are dropped and
	// counted, so a collector that is down never holds memory or a request.
	QueueSize int
	// BatchSize is the most spans sent in one export (default 512).
	BatchSize int
}

// settings is Config after the OTEL_* variables are parsed and checked.
type settings struct {
	serviceName string
	exporters   []string // "otlp", "console"; empty exports nothing
	endpoint    *url.URL // nil: the protocol's localhost default
	protocol    string   // "grpc" or "http/protobuf"
	sampler     sdktrace.Sampler
	samplerName string
}

// CheckSettings reports every problem with the OTEL_* variables getenv gives, as Setup would, so that
// they are listed with the rest of the configuration's at start-up.
func CheckSettings(getenv func(string) string) error {
	_, err := parseSettings(getenv)
	return err
}

// parseSettings reads the standard OTEL_* variables and returns every problem at once.
//
// One deliberate deviation from the specification: with neither OTEL_EXPORTER_OTLP_ENDPOINT nor
// OTEL_TRACES_EXPORTER set, nothing is exported (the specification would export OTLP to localhost),
// so that a plain `go run .` never logs export errors about a collector nobody started.
func parseSettings(getenv func(string) string) (settings, error) {
	env := func(k string) string {
		if getenv == nil {
			return ""
		}
		return strings.TrimSpace(getenv(k))
	}
	var problems []error
	s := settings{serviceName: DefaultServiceName, protocol: "http/protobuf"}
	if v := env("OTEL_SERVICE_NAME"); v != "" {
		s.serviceName = v
	}

	endpoint := env("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: want an http:// or https:// URL with a host, such as http://127.0.0.1:4318", endpoint))
		} else {
			s.endpoint = u
		}
	}
	switch v := env("OTEL_EXPORTER_OTLP_PROTOCOL"); v {
	case "":
	case "grpc", "http/protobuf":
		s.protocol = v
	default:
		problems = append(problems, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: want grpc or http/protobuf", v))
	}

	exporters := env("OTEL_TRACES_EXPORTER")
	switch {
	case exporters == "" && endpoint != "":
		s.exporters = []string{"otlp"}
	case exporters != "":
		for _, name := range strings.Split(exporters, ",") {
			switch name = strings.TrimSpace(name); name {
			case "otlp", "console":
				s.exporters = append(s.exporters, name)
			case "none":
			default:
				problems = append(problems, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not one of otlp, console, none", name))
			}
		}
	}

	sampler, err := parseSampler(env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		problems = append(problems, err)
	}
	s.sampler, s.samplerName = sampler, env("OTEL_TRACES_SAMPLER")
	return s, errors.Join(problems...)
}

// parseSampler maps OTEL_TRACES_SAMPLER and its argument to a sampler. The default,
// parentbased_always_on, lets a caller's traceparent decide and samples everything else.
func parseSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(r >= 0 && r <= 1) { // NaN is neither, and sampled everything
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a probability from 0 to 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		r, err := ratio()
		return sdktrace.TraceIDRatioBased(r), err
	case "parentbased_traceidratio":
		r, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), err
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}
