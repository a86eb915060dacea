package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

const defaultTestTimeout = 20 * time.Second

// TestRun runs the whole demo once and checks every row: the scenarios
// exist to show these exact answers.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var out bytes.Buffer
	var sent []string
	results, err := run(ctx, &out, func(tok string) { sent = append(sent, strings.TrimPrefix(tok, "header:")) })
	if err != nil {
		t.Fatalf("run() error = %v\n%s", err, out.String())
	}

	const (
		noChallenge = ""
		realmOnly   = `Bearer realm="reports"`
	)
	want := []struct {
		call, token string
		code        codes.Code
		reason      string
		result      string // a prefix of Result
		www         string // a substring of WWWAuthenticate; noChallenge: none at all
	}{
		{"GetReport alice/r-1", "none", codes.Unauthenticated, "MISSING_TOKEN", "an access token is required", realmOnly},
		{"GetReport alice/r-1", "garbage", codes.Unauthenticated, "INVALID_TOKEN", "", `error="invalid_token"`},
		{"GetReport alice/r-1", "Basic credentials", codes.Unauthenticated, "INVALID_REQUEST", "", `error="invalid_request"`},
		{"GetReport alice/r-1", "alice read, expired 1h ago", codes.Unauthenticated, "INVALID_TOKEN", "the access token expired", `error_description="the access token expired"`},
		{"GetReport alice/r-1", "alice read, aud: another API", codes.Unauthenticated, "INVALID_TOKEN", "", `error="invalid_token"`},
		{"CreateReport", "alice read", codes.PermissionDenied, "INSUFFICIENT_SCOPE", "", `scope="write:reports"`},
		{"CreateReport", "alice write", codes.OK, "", "created r-4, owner alice", noChallenge},
		{"GetReport alice/r-1", "alice read", codes.OK, "", `"Q1 sales", owner alice`, noChallenge},
		{"GetReport bob/r-3", "carol admin", codes.OK, "", `"Salaries", owner bob`, noChallenge},
		{"GetReport bob/r-3", "alice read", codes.PermissionDenied, "CONDITION_NOT_MET", "the call does not meet a condition of the method", noChallenge},
		{"GetReport alice/r-3", "alice read", codes.NotFound, "", "no such report", noChallenge},
		{"DeleteReport r-4", "alice write", codes.PermissionDenied, "INSUFFICIENT_SCOPE", "", `scope="admin write:reports"`},
		{"DeleteReport r-4", "root write+admin", codes.Unauthenticated, "INSUFFICIENT_USER_AUTHENTICATION", "a stronger and more recent authentication is required", `acr_values="urn:example:mfa", max_age="300"`},
		{"DeleteReport r-4", "root write+admin, MFA 1m ago", codes.OK, "", "deleted r-4", noChallenge},
		{"GetServerInfo", "none", codes.OK, "", "oauthgate-reports v1", noChallenge},
		{"Health/Check", "none", codes.OK, "", "SERVING", noChallenge},
		{"UploadReports (3 msgs)", "alice write", codes.OK, "", "stored r-5 r-6 r-7", noChallenge},
		{"ListReports", "alice read", codes.OK, "", "5 reports: r-1 r-2 r-5 r-6 r-7", noChallenge},
		{"ListReports every 500ms", "alice read, exp in ≤1.6s", codes.Unauthenticated, "INVALID_TOKEN", "", `error_description="the access token expired"`},
		{"GetReport alice/r-1", "alice read, new key, JWKS down", codes.Unavailable, "VERIFIER_UNAVAILABLE", "", noChallenge},
		{"GetReport alice/r-1", "alice read, new key, JWKS back", codes.OK, "", `"Q1 sales", owner alice`, noChallenge},
		{"GetReport alice/r-1", "opaque alice read", codes.OK, "", `"Q1 sales", owner alice`, noChallenge},
		{"GetReport alice/r-1", "opaque alice read, revoked", codes.Unauthenticated, "INVALID_TOKEN", "", `error_description="the access token is not active"`},
		{"ListReports every 500ms", "alice read, session revoked", codes.Unauthenticated, "TOKEN_REVOKED", "", `error_description="the access token was revoked"`},
	}
	if len(results) != len(want) {
		t.Fatalf("run() returned %d rows, want %d\n%s", len(results), len(want), out.String())
	}
	for i, w := range want {
		r := results[i]
		if r.Call != w.call || r.Token != w.token {
			t.Errorf("row %d = %q with %q, want %q with %q", i+1, r.Call, r.Token, w.call, w.token)
			continue
		}
		if r.Code != w.code || r.Reason != w.reason {
			t.Errorf("row %d (%s, %s): code, reason = %v, %q, want %v, %q", i+1, w.call, w.token, r.Code, r.Reason, w.code, w.reason)
		}
		wantCond := "" // a condition's denial names it; the example's one is owner
		if w.reason == "CONDITION_NOT_MET" {
			wantCond = "owner"
		}
		if r.Condition != wantCond {
			t.Errorf("row %d (%s, %s): condition = %q, want %q", i+1, w.call, w.token, r.Condition, wantCond)
		}
		if !strings.HasPrefix(r.Result, w.result) {
			t.Errorf("row %d (%s, %s): result = %q, want prefix %q", i+1, w.call, w.token, r.Result, w.result)
		}
		switch {
		case w.www == noChallenge && r.WWWAuthenticate != "":
			t.Errorf("row %d (%s, %s): www-authenticate = %q, want none", i+1, w.call, w.token, r.WWWAuthenticate)
		case w.www != noChallenge && !strings.Contains(r.WWWAuthenticate, w.www):
			t.Errorf("row %d (%s, %s): www-authenticate = %q, want it to contain %q", i+1, w.call, w.token, r.WWWAuthenticate, w.www)
		}
		if !strings.Contains(out.String(), w.call) {
			t.Errorf("output lacks row %d's call %q", i+1, w.call)
		}
	}

	if !strings.Contains(out.String(), "CONDITION_NOT_MET condition=owner") {
		t.Errorf("output lacks the owner condition's denial")
	}

	// The expiring stream delivered messages before it was cut.
	if got := results[18].Result; !strings.Contains(got, "reports, then: the access token expired") || strings.HasPrefix(got, "0 ") {
		t.Errorf("mid-stream expiry result = %q, want some reports, then expiry", got)
	}

	// The revoked stream delivered messages before the event cut it.
	if got := results[len(results)-1].Result; !strings.Contains(got, "reports, then: the access token was revoked") || strings.HasPrefix(got, "0 ") {
		t.Errorf("revoked stream result = %q, want some reports, then the revocation", got)
	}

	if len(sent) < 15 {
		t.Fatalf("run() reported %d tokens sent, want at least 15", len(sent))
	}
	for _, tok := range sent {
		if tok != "" && strings.Contains(out.String(), tok) {
			t.Errorf("output contains a token that was sent")
		}
	}
	for line := range strings.Lines(out.String()) {
		if n := utf8.RuneCountInString(strings.TrimSuffix(line, "\n")); n > maxWidth {
			t.Errorf("output line is %d columns wide, want at most %d: %q", n, maxWidth, line)
		}
	}
	if strings.Contains(out.String(), "eyJ") { // every JWT starts with a base64url "{"
		t.Errorf("output contains something that looks like a JWT")
	}
}
