// Command baseline is what the load script measures the adapter against, side by side in one run on
// the same machine, because absolute figures drift on a shared machine:
//
//   - `baseline static -body FILE`: a plain Go HTTP server answering every request with the same bytes
//     and the headers the adapter sends: the ceiling for a cache hit.
//   - `baseline passthrough`: a plain Go reverse proxy that makes the same Spine search as the
//     adapter over mutual TLS, against an embedded sandbox in its own process (as the adapter's is in
//     its), and returns Spine's JSON untouched: no authentication, audit, mapping or FHIR. The
//     ceiling for a cache miss.
//
// Both listen on 127.0.0.1 only and print their URL.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: baseline static -body FILE | baseline passthrough [-patients N]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	body := fs.String("body", "", "static: the file to answer with")
	patients := fs.Int("patients", 0, "passthrough: generated sandbox patients, as EPS_SANDBOX_PATIENTS")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var h http.Handler
	switch args[0] {
	case "static":
		b, err := os.ReadFile(*body)
		if err != nil {
			return err
		}
		h = static(b)
	case "passthrough":
		sb, err := sandbox.Start(sandbox.Options{Patients: *patients}, "")
		if err != nil {
			return err
		}
		defer sb.Close(context.Background())
		tlsConfig, err := tracker.TLSConfigFromPEM(sb.Certs.ClientCertPEM, sb.Certs.ClientKeyPEM, sb.Certs.CAPEM)
		if err != nil {
			return err
		}
		h = passthrough(sb.URL, tlsConfig)
	default:
		return fmt.Errorf("unknown mode %q", args[0])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("URL: http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func static(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/fhir+json")
		h.Set("Cache-Control", "private, no-cache")
		h.Set("ETag", `"static"`)
		_, _ = w.Write(body)
	})
}

// passthrough answers GET /?nhsNumber=...&earliestDate=...&latestDate=... with Spine's search reply.
func passthrough(spine string, tlsConfig *tls.Config) http.Handler {
	client := tracker.NewHTTPClient(tlsConfig)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("format", "trace-summary")
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, spine+"/mm/prescriptions?"+q.Encode(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Spine-From-Asid", "200000000946")
		req.Header.Set("Spine-UserId", "555555555555")
		req.Header.Set("Spine-RoleProfileId", "666666666666")
		res, err := client.Do(req)
		if err != nil {
			http.Error(w, "spine: "+strings.SplitN(err.Error(), ":", 2)[0], http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})
}
