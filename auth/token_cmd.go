package auth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// TokenCommand is `token`: it prints an access token for a sandbox user,
// signed with the key a running sandbox server also uses (same stateDir), so
// that `curl -H "Authorization: Bearer $(go run . token)"` works.
func TokenCommand(ctx context.Context, args []string, stateDir, issuerURL, audience string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a parse error is reported once, by the caller; --help prints the usage
	user := fs.String("user", SandboxUsers[0].UserID, "sandbox user ID (12 digits)")
	role := fs.String("role", "", "role profile ID (default: the user's role)")
	var scopes []string
	fs.Func("scope", "a scope to grant; repeat or space-separate (default: the user's scopes)", func(s string) error {
		scopes = append(scopes, strings.Fields(s)...)
		return nil
	})
	ttl := fs.Duration("ttl", time.Hour, "token lifetime (at most 24h)")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, stderr) // as the server's --help: on stderr, so $(go run . token --help) holds no token
			return nil
		}
		return fmt.Errorf("token: %w (see token --help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected arguments %q", fs.Args())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	iss, err := OpenIssuer(stateDir, issuerURL, audience)
	if err != nil {
		return err
	}
	tok, err := iss.Mint(*user, *role, scopes, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "usage: token [--user ID] [--role ID] [--scope SCOPE]... [--ttl 1h] [server flags]")
	fmt.Fprintln(w, "\nPrints an access token from the sandbox issuer for a sandbox user. It also takes the")
	fmt.Fprintln(w, "server's flags (--addr, --state-dir...): give those the server was started with.")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nSandbox users (docs/sandbox-users.md):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  USER\tROLE\tPASSWORD\tWHO")
	for _, u := range SandboxUsers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", u.UserID, cmpOr(u.RoleProfileID, "-"), u.Password, u.Description)
	}
	tw.Flush()
}
