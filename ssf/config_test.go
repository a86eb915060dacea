package ssf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthgate/oauthgate/ssf"
	"github.com/oauthgate/oauthgate/verify"
)

// TestNew_Invalid: every invalid configuration is refused at
// construction, with an error naming the field.
func TestNew_Invalid(t *testing.T) {
	t.Parallel()
	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour, MaxSubjects: 100})
	if err != nil {
		t.Fatal(err)
	}
	ok := ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience}
	with := func(mod func(*ssf.Config)) ssf.Config { c := ok; mod(&c); return c }
	var nilKeys *verify.StaticKeySet
	tests := map[string]struct {
		new  func() error
		want string
	}{
		"NoRetention": {func() error { _, err := ssf.NewRevocations(ssf.RevocationsConfig{}); return err }, "Retention"},
		"LongRetention": {func() error {
			_, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: 8 * 24 * time.Hour})
			return err
		}, "Retention"},
		"NegativeMaxSubjects": {func() error {
			_, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: time.Hour, MaxSubjects: -1})
			return err
		}, "MaxSubjects"},
		"NilRevocations": {func() error { _, err := ssf.NewReceiver(nil, ok); return err }, "Revocations"},
		"NoIssuer":       {func() error { _, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.Issuer = "" })); return err }, "Issuer"},
		"HTTPIssuer": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.Issuer = "http://idp.example.com" }))
			return err
		}, "Issuer"},
		"NoAudience": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.Audience = "" }))
			return err
		}, "Audience"},
		"MaxAgeOverRetention": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.MaxAge = 2 * time.Hour }))
			return err
		}, "MaxAge"},
		"Leeway": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.Leeway = 10 * time.Minute }))
			return err
		}, "Leeway"},
		"MaxSubjectsOverTotal": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.MaxSubjects = 101 }))
			return err
		}, "MaxSubjects"},
		"MaxSETSize": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.MaxSETSize = -1 }))
			return err
		}, "MaxSETSize"},
		"HMAC": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.Algorithms = []jose.SignatureAlgorithm{jose.HS256} }))
			return err
		}, "Algorithms"},
		"NilStaticKeys": {func() error {
			_, err := ssf.NewReceiver(rev, with(func(c *ssf.Config) { c.Keys = nilKeys }))
			return err
		}, "Keys"},
		"PollNoEndpoint": {func() error { _, err := ssf.NewPoller(rev, ok, ssf.PollConfig{}); return err }, "Endpoint"},
		"PollHTTP": {func() error {
			_, err := ssf.NewPoller(rev, ok, ssf.PollConfig{Endpoint: "http://idp.example.com/poll"})
			return err
		}, "Endpoint"},
		"PollUserInfo": {func() error {
			_, err := ssf.NewPoller(rev, ok, ssf.PollConfig{Endpoint: "https://u:p@idp.example.com/poll"})
			return err
		}, "Endpoint"},
		"PollMaxEvents": {func() error {
			_, err := ssf.NewPoller(rev, ok, ssf.PollConfig{Endpoint: "https://idp.example.com/poll", MaxEvents: 1001})
			return err
		}, "MaxEvents"},
		"PollInterval": {func() error {
			_, err := ssf.NewPoller(rev, ok, ssf.PollConfig{Endpoint: "https://idp.example.com/poll", Interval: -1})
			return err
		}, "Interval"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.new()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ssf: ") {
				t.Errorf("New() error = %v, want an ssf error naming %s", err, tc.want)
			}
		})
	}
}

// TestNew_Limits: each limit itself is a valid configuration.
func TestNew_Limits(t *testing.T) {
	t.Parallel()
	rev, err := ssf.NewRevocations(ssf.RevocationsConfig{Retention: 7 * 24 * time.Hour, MaxSubjects: 100})
	if err != nil {
		t.Fatalf("NewRevocations(Retention: 7 days) error = %v", err)
	}
	recv, err := ssf.NewReceiver(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience,
		MaxAge: 7 * 24 * time.Hour, Leeway: 5 * time.Minute, MaxSubjects: 100})
	if err != nil {
		t.Fatalf("NewReceiver(MaxAge: the Retention, Leeway: 5m, MaxSubjects: the Revocations') error = %v", err)
	}
	_ = recv.Close()
	p, err := ssf.NewPoller(rev, ssf.Config{Issuer: "https://idp.example.com", Audience: receiverAudience},
		ssf.PollConfig{Endpoint: "https://idp.example.com/poll", MaxEvents: 1000})
	if err != nil {
		t.Fatalf("NewPoller(MaxEvents: 1000) error = %v", err)
	}
	_ = p.Close()
}
