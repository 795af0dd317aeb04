// Command check is the Go half of .ci/jaeger.sh: it finds free ports, waits for listeners, runs a
// stand-in adapter for the script's self-test, and sends the requests whose traces it then checks
// in Jaeger. It lives in a dot directory so `go test ./...` and `go vet ./...` pass it by.
//
//	check ports N                   print N free loopback ports
//	check wait URL                  wait (bounded) until URL answers 200
//	check demo -addr A              serve a stand-in adapter exporting by OTEL_* (self-test)
//	check run -fhir URL -jaeger URL -service S [-token T]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: check ports|wait|demo|run ...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "ports":
		err = ports(os.Args[2:])
	case "wait":
		err = wait(ctx, os.Args[2:])
	case "demo":
		err = demo(ctx, os.Args[2:])
	case "run":
		err = run(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
}

// ports prints n ports that were free a moment ago. All listeners stay open until every port is
// chosen, so the n are distinct.
func ports(args []string) error {
	n := 1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil {
			return err
		}
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// wait polls a URL until it answers 200, for at most -timeout.
func wait(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("wait: want one URL")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(fs.Arg(0))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %s (last error: %v)", fs.Arg(0), *timeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
