package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/oauthgate/oauthgate/examples/reports/reportsv1"
	"golang.org/x/oauth2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// tokenEnv names the environment variable read when -token is not given.
const tokenEnv = "OAUTHGATE_TOKEN"

// callTimeout bounds each call.
const callTimeout = 10 * time.Second

// errCallFailed reports that at least one call failed; run has printed why.
var errCallFailed = errors.New("a call failed")

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	switch err := run(context.Background(), cfg, os.Stdout); {
	case errors.Is(err, errCallFailed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// config is the validated command line.
type config struct {
	addr     string
	token    string
	owner    string
	id       string
	insecure bool
}

// parseFlags parses and validates args (without the program name); getenv
// supplies OAUTHGATE_TOKEN.
func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:50051", "server `host:port`")
	fs.StringVar(&cfg.token, "token", "", "access `token` (default $"+tokenEnv+")")
	fs.StringVar(&cfg.owner, "owner", "alice", "`sub` of the owner of the report to read")
	fs.StringVar(&cfg.id, "id", "r-1", "report `id` to read")
	fs.BoolVar(&cfg.insecure, "insecure", false, "plaintext, for a loopback server only")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.token == "" {
		cfg.token = getenv(tokenEnv)
	}
	host, _, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return config{}, fmt.Errorf("-addr %q: want host:port", cfg.addr)
	}
	if cfg.insecure && !isLoopback(host) {
		// A bearer token sent in clear text can be replayed by anyone on
		// the path (RFC 6750 §5.3).
		return config{}, fmt.Errorf("-insecure is allowed only for loopback hosts, not %q", host)
	}
	return cfg, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// perRPC returns the credentials that put the token in the authorization
// metadata of every call (RFC 6750 §2.1).
//
// Over TLS it uses grpc-go's own credentials/oauth with an oauth2.TokenSource,
// which is what a real client uses (swap the static source for one that
// refreshes). grpc-go refuses to send those over plaintext, so for a server
// on a loopback address (-insecure) a fixed-token type does the same job.
func perRPC(token string, insecure bool) credentials.PerRPCCredentials {
	if insecure {
		return loopbackBearer(token)
	}
	return oauth.TokenSource{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})}
}

// loopbackBearer sends a fixed token without requiring transport security;
// parseFlags allows that only for loopback addresses.
type loopbackBearer string

// GetRequestMetadata returns the authorization metadata for every call.
func (b loopbackBearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity reports false: the connection is to loopback.
func (loopbackBearer) RequireTransportSecurity() bool { return false }

// run connects to cfg.addr, makes the calls and prints their results to w.
// It returns errCallFailed when a call failed, or another error when it
// could not connect.
func run(ctx context.Context, cfg config, w io.Writer) error {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}))}
	if cfg.insecure {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	if cfg.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(perRPC(cfg.token, cfg.insecure)))
	}
	conn, err := grpc.NewClient(cfg.addr, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := reportsv1.NewReportServiceClient(conn)

	failed := false
	call := func(name string, rpc func(context.Context, ...grpc.CallOption) (string, error)) {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		var hdr, trl metadata.MD
		result, err := rpc(ctx, grpc.Header(&hdr), grpc.Trailer(&trl))
		if err == nil {
			fmt.Fprintf(w, "%s: %s\n", name, result)
			return
		}
		failed = true
		st := status.Convert(err)
		reason := ""
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
				if c, ok := info.GetMetadata()["condition"]; ok {
					reason += " condition=" + c // CONDITION_NOT_MET names the condition
				}
				reason = " (" + reason + ")"
			}
		}
		fmt.Fprintf(w, "%s: %s%s: %s\n", name, st.Code(), reason, st.Message())
		// Errors come as trailers-only responses, which grpc-go exposes as
		// both header and trailer.
		if v := append(hdr.Get("www-authenticate"), trl.Get("www-authenticate")...); len(v) > 0 {
			fmt.Fprintf(w, "  www-authenticate: %s\n", v[0])
		}
	}

	call("GetServerInfo", func(ctx context.Context, o ...grpc.CallOption) (string, error) {
		resp, err := client.GetServerInfo(ctx, &reportsv1.GetServerInfoRequest{}, o...)
		return resp.GetName() + " " + resp.GetVersion(), err
	})
	call("GetReport "+cfg.owner+"/"+cfg.id, func(ctx context.Context, o ...grpc.CallOption) (string, error) {
		resp, err := client.GetReport(ctx, &reportsv1.GetReportRequest{Owner: cfg.owner, Id: cfg.id}, o...)
		r := resp.GetReport()
		return fmt.Sprintf("%q by %s: %s", r.GetTitle(), r.GetOwner(), r.GetBody()), err
	})
	if failed {
		return errCallFailed
	}
	return nil
}
