package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oauthgate/oauthgate/cmd/oauthgate-dev-issuer/devissuer"
)

const usage = `usage:
  oauthgate-dev-issuer serve [-addr 127.0.0.1:8765] [-aud URL]
  oauthgate-dev-issuer token [-addr 127.0.0.1:8765] [-scope "a b"] [-sub alice] [-aud URL]... [-client-id ID] [-ttl 1h]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main with its arguments, output and exit status, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, nil)
	case "token":
		err = token(ctx, args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "oauthgate-dev-issuer: %v\n%s", err, usage)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "oauthgate-dev-issuer:", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// serve runs the dev issuer until ctx ends. ready, if set, gets the server
// once it listens (tests use it).
func serve(ctx context.Context, args []string, stdout io.Writer, ready func(*devissuer.Server)) error {
	fs := newFlagSet("serve")
	addr := fs.String("addr", devissuer.DefaultAddr, "listen address (loopback only)")
	aud := fs.String("aud", devissuer.DefaultAudience, "audience of minted tokens")
	if err := parse(fs, args); err != nil {
		return err
	}
	s, err := devissuer.Start(*addr, *aud)
	if err != nil {
		return err
	}
	defer s.Close()
	tokenCmd := "go run ./cmd/oauthgate-dev-issuer token"
	if *addr != devissuer.DefaultAddr {
		tokenCmd += " -addr " + strings.TrimPrefix(s.URL, "http://")
	}
	fmt.Fprintf(stdout, `oauthgate dev issuer (development only: anybody on this machine can mint tokens)
issuer: %s
run the example server against it:
  go run ./examples/reports/server -issuer %s -audience %s -insecure-http
mint a token:
  %s -scope read:reports
introspection client: %s / %s
Ctrl-C stops it.
`, s.URL, s.URL, *aud, tokenCmd, s.ClientID(), s.ClientSecret())
	if ready != nil {
		ready(s)
	}
	<-ctx.Done()
	return nil
}

// token prints a token minted by the running dev issuer.
func token(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("token")
	addr := fs.String("addr", devissuer.DefaultAddr, "the dev issuer's address")
	scope := fs.String("scope", "", "space-separated scopes")
	var req devissuer.TokenRequest
	fs.StringVar(&req.Subject, "sub", devissuer.DefaultSubject, "subject")
	fs.Func("aud", "audience; repeat for several", func(v string) error {
		req.Audience = append(req.Audience, v)
		return nil
	})
	fs.StringVar(&req.ClientID, "client-id", "", "client_id claim")
	fs.DurationVar(&req.TTL, "ttl", devissuer.DefaultTTL, "lifetime")
	if err := parse(fs, args); err != nil {
		return err
	}
	req.Scopes = strings.Fields(*scope)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tok, err := devissuer.RequestToken(ctx, *addr, req)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
