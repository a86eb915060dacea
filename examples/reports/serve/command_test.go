package serve

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const defaultTestTimeout = 10 * time.Second

func noEnv(string) string { return "" }

// parseFlags parses args as the command of examples/reports/server does.
func parseFlags(args []string, getenv func(string) string) (config, error) {
	return Command{}.parse(args, getenv, io.Discard)
}

// listenerTo returns a [Command].OnListen that sends the address of the
// listener called name to ch.
func listenerTo(name string, ch chan<- net.Addr) func(string, net.Addr) {
	return func(n string, a net.Addr) {
		if n == name {
			ch <- a
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args    []string
		env     string // OAUTHGATE_CLIENT_SECRET
		wantErr string // a substring; "" for success
		check   func(config) bool
	}{
		"IssuerOnly": {args: []string{"-issuer", "https://auth.example.com/", "-audience", "api"},
			check: func(c config) bool {
				return c.addr == "127.0.0.1:50051" && c.issuer == "https://auth.example.com/" && len(c.audiences) == 1 && c.logFormat == "text"
			}},
		"AudiencesRepeatedAndComma": {args: []string{"-issuer", "https://a.example", "-audience", "x, y", "-audience", "z"},
			check: func(c config) bool { return strings.Join(c.audiences, "|") == "x|y|z" }},
		"JWKSWithIssuer": {args: []string{"-issuer", "https://a.example", "-jwks", "https://a.example/keys", "-audience", "x"},
			check: func(c config) bool { return c.jwks == "https://a.example/keys" }},
		"IntrospectionOnly": {args: []string{"-introspect", "https://a.example/introspect", "-client-id", "rs", "-client-secret", "s3cret", "-audience", "x"},
			check: func(c config) bool { return c.clientID == "rs" && string(c.clientSecret) == "s3cret" }},
		"SecretFromEnv": {args: []string{"-introspect", "https://a.example/i", "-client-id", "rs", "-audience", "x"}, env: "fromenv",
			check: func(c config) bool { return string(c.clientSecret) == "fromenv" }},
		"InsecureLoopback": {args: []string{"-issuer", "http://127.0.0.1:8080", "-audience", "x", "-insecure-http"},
			check: func(c config) bool { return c.insecureHTTP }},
		"InsecureLocalhost": {args: []string{"-issuer", "http://localhost:8080", "-audience", "x", "-insecure-http", "-log-format", "json"},
			check: func(c config) bool { return c.logFormat == "json" }},

		"NothingToVerify":           {args: []string{"-audience", "x"}, wantErr: "set -issuer"},
		"NoAudience":                {args: []string{"-issuer", "https://a.example"}, wantErr: "-audience is required"},
		"EmptyAudience":             {args: []string{"-issuer", "https://a.example", "-audience", "x,,y"}, wantErr: "empty value"},
		"JWKSWithoutIssuer":         {args: []string{"-jwks", "https://a.example/keys", "-audience", "x"}, wantErr: "-jwks needs -issuer"},
		"MalformedIssuer":           {args: []string{"-issuer", "auth.example.com", "-audience", "x"}, wantErr: "-issuer: not an absolute URL"},
		"BadScheme":                 {args: []string{"-issuer", "ftp://a.example", "-audience", "x"}, wantErr: "-issuer: scheme"},
		"HTTPWithoutInsecure":       {args: []string{"-issuer", "http://127.0.0.1:8080", "-audience", "x"}, wantErr: "needs -insecure-http"},
		"HTTPRemote":                {args: []string{"-issuer", "http://auth.example.com", "-audience", "x", "-insecure-http"}, wantErr: "only for loopback"},
		"UserInfo":                  {args: []string{"-introspect", "https://rs:pw@a.example/i", "-client-id", "rs", "-client-secret", "s", "-audience", "x"}, wantErr: "user information"},
		"ClientIDWithoutSecret":     {args: []string{"-introspect", "https://a.example/i", "-client-id", "rs", "-audience", "x"}, wantErr: "needs -client-secret"},
		"SecretWithoutClientID":     {args: []string{"-introspect", "https://a.example/i", "-client-secret", "s", "-audience", "x"}, wantErr: "needs -client-id"},
		"ClientIDWithoutIntrospect": {args: []string{"-issuer", "https://a.example", "-client-id", "rs", "-audience", "x"}, wantErr: "for -introspect"},
		"BadAddr":                   {args: []string{"-addr", "50051", "-issuer", "https://a.example", "-audience", "x"}, wantErr: "-addr"},
		"BadLogFormat":              {args: []string{"-issuer", "https://a.example", "-audience", "x", "-log-format", "xml"}, wantErr: "-log-format"},
		"UnknownFlag":               {args: []string{"-issuer", "https://a.example", "-audience", "x", "-verbose"}, wantErr: "flag provided but not defined"},
		"ExtraArgument":             {args: []string{"-issuer", "https://a.example", "-audience", "x", "extra"}, wantErr: "unexpected argument"},
		"CertWithoutKey":            {args: []string{"-issuer", "https://a.example", "-audience", "x", "-tls-cert", "c.pem"}, wantErr: "go together"},
		"ClientCAWithoutTLS":        {args: []string{"-issuer", "https://a.example", "-audience", "x", "-client-ca", "ca.pem"}, wantErr: "-client-ca needs TLS"},
		"SharedSignals": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-ssf-transmitter", "https://idp.example", "-ssf-audience", "rs", "-ssf-addr", ":8443"},
			check: func(c config) bool { return c.ssfIssuer == "https://idp.example" && c.ssfRetention == time.Hour }},
		"SSFWithoutAudience": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-ssf-transmitter", "https://idp.example", "-ssf-addr", ":8443"},
			wantErr: "needs -ssf-audience"},
		"SSFAddrWithoutTransmitter": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-ssf-addr", ":8443"},
			wantErr: "for -ssf-transmitter"},
		"SSFHTTP": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-ssf-transmitter", "http://idp.example", "-ssf-audience", "rs", "-ssf-addr", ":8443"},
			wantErr: "-ssf-transmitter"},
		"Connect": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-connect", "-cors-origin", "https://app.example,http://127.0.0.1:3000"},
			check: func(c config) bool { return c.connect && len(c.corsOrigins) == 2 }},
		"CORSWithoutConnect": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-cors-origin", "https://app.example"}, wantErr: "-cors-origin needs -connect"},
		"PublicOrigins": {args: []string{"-issuer", "https://a.example", "-audience", "x", "-public-origin", "https://a.example,https://b.example"},
			check: func(c config) bool { return len(c.origins) == 2 }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseFlags(tc.args, func(k string) string {
				if k == secretEnv {
					return tc.env
				}
				return ""
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("parseFlags(%q) error = %v, want nil", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("parseFlags(%q) error = %v, want one containing %q", tc.args, err, tc.wantErr)
			case tc.check != nil && !tc.check(cfg):
				t.Errorf("parseFlags(%q) = %+v, not as expected", tc.args, cfg)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("parseFlags() error %q contains the secret", err)
			}
		})
	}
}

func TestParseFlags_Help(t *testing.T) {
	t.Parallel()
	if _, err := parseFlags([]string{"-h"}, noEnv); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) error = %v, want flag.ErrHelp", err)
	}
}

// TestCommand_Main checks Main's exit statuses and that it reports a bad
// command line, or a bad Command, before anything listens.
func TestCommand_Main(t *testing.T) {
	t.Parallel()
	ok := http.NotFoundHandler()
	metrics := Endpoint{Name: "metrics", Flag: "metrics-addr", Default: "127.0.0.1:0", Usage: "metrics `address`", Handler: ok}
	valid := []string{"-issuer", "https://a.example", "-audience", "x"}
	tests := map[string]struct {
		endpoints []Endpoint
		args      []string
		want      int
		wantOut   string // a substring of stderr
	}{
		"Help":                {endpoints: []Endpoint{metrics}, args: []string{"-h"}, want: 0, wantOut: "-metrics-addr address"},
		"UnknownFlag":         {args: append(valid, "-metrics-addr", ":9464"), want: 2, wantOut: "test: flag provided but not defined"},
		"InvalidFlags":        {args: []string{"-issuer", "https://a.example"}, want: 2, wantOut: "test: -audience is required"},
		"EndpointAddr":        {endpoints: []Endpoint{metrics}, args: append(valid, "-metrics-addr", "9464"), want: 2, wantOut: `-metrics-addr "9464": want host:port`},
		"EndpointNoName":      {endpoints: []Endpoint{{Flag: "m", Handler: ok}}, args: valid, want: 1, wantOut: "Endpoints[0].Name is empty"},
		"EndpointNameGRPC":    {endpoints: []Endpoint{{Name: "grpc", Flag: "m", Handler: ok}}, args: valid, want: 1, wantOut: `"grpc" is taken`},
		"EndpointNameTwice":   {endpoints: []Endpoint{metrics, {Name: "metrics", Flag: "m", Handler: ok}}, args: valid, want: 1, wantOut: `Endpoints[1].Name "metrics" is taken`},
		"EndpointNoFlag":      {endpoints: []Endpoint{{Name: "m", Handler: ok}}, args: valid, want: 1, wantOut: "want a flag name"},
		"EndpointDashFlag":    {endpoints: []Endpoint{{Name: "m", Flag: "-m", Handler: ok}}, args: valid, want: 1, wantOut: "want a flag name"},
		"EndpointServerFlag":  {endpoints: []Endpoint{{Name: "m", Flag: "addr", Handler: ok}}, args: valid, want: 1, wantOut: "-addr is already a flag"},
		"EndpointFlagTwice":   {endpoints: []Endpoint{metrics, {Name: "m", Flag: "metrics-addr", Handler: ok}}, args: valid, want: 1, wantOut: "-metrics-addr is already a flag"},
		"EndpointNoHandler":   {endpoints: []Endpoint{{Name: "m", Flag: "m"}}, args: valid, want: 1, wantOut: "Endpoints[0].Handler is nil"},
		"EndpointBadHelpFlag": {endpoints: []Endpoint{{Name: "m", Flag: "m=x", Handler: ok}}, args: []string{"-h"}, want: 1, wantOut: "want a flag name"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := Command{Name: "test", Endpoints: tc.endpoints, OnListen: func(name string, _ net.Addr) {
				t.Errorf("Main() listened (%s) despite an invalid command", name)
			}}
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			if got := cmd.Main(ctx, tc.args, noEnv, &stderr); got != tc.want || !strings.Contains(stderr.String(), tc.wantOut) {
				t.Errorf("Main(%q) = %d, stderr %q; want %d, stderr containing %q", tc.args, got, stderr.String(), tc.want, tc.wantOut)
			}
		})
	}
}
