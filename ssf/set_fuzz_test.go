package ssf

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/oauthgate/oauthgate/oauthtest"
	"github.com/oauthgate/oauthgate/verify"
)

const fuzzAudience = "https://api.example.com/ssf"

// fuzzTransmitter returns a transmitter that checks the SETs of tr, at a
// fixed time.
func fuzzTransmitter(f *testing.F, tr *oauthtest.Transmitter, now time.Time) *transmitter {
	f.Helper()
	keys, err := verify.NewStaticKeySet(tr.JWKS().Keys...)
	if err != nil {
		f.Fatal(err)
	}
	rev, err := NewRevocations(RevocationsConfig{Retention: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	t, err := newTransmitter(rev, Config{Issuer: tr.URL, Audience: fuzzAudience, Keys: keys}, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	return t
}

// fuzzSeeds are SETs of every subject format.
func fuzzSeeds(tb testing.TB, tr *oauthtest.Transmitter) []string {
	subjects := []map[string]any{
		oauthtest.IssSub("https://idp.example.com", "alice"), oauthtest.Email("a@example.com"),
		oauthtest.Opaque("alice"), oauthtest.JWTID("https://idp.example.com", "j1"),
		oauthtest.Complex(oauthtest.Opaque("alice"), "s1", "t1"), oauthtest.Complex(nil, "s1", ""),
		{"format": "aliases", "identifiers": []any{oauthtest.Opaque("a"), oauthtest.Email("b@c")}},
	}
	var seeds []string
	for i, s := range subjects {
		seeds = append(seeds, tr.SET(tb, oauthtest.Event{Audience: fuzzAudience, Type: SessionRevoked, Subject: s,
			SubjectInEvent: i%2 == 0, Time: time.Now().Add(-time.Minute)}))
	}
	return seeds
}

// FuzzSET feeds arbitrary strings to the whole SET check: it must never
// panic, and whatever it accepts it accepts again with the same jti and
// changes (it has no side effect).
func FuzzSET(f *testing.F) {
	tr := oauthtest.NewTransmitter(f)
	now := time.Now()
	t := fuzzTransmitter(f, tr, now)
	for _, s := range fuzzSeeds(f, tr) {
		f.Add(s)
	}
	f.Add("a.b.c")
	f.Fuzz(func(tt *testing.T, raw string) {
		changes, jti, err := t.verifySET(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidSET) {
				tt.Fatalf("verifySET() error = %v, want ErrInvalidSET", err)
			}
			return
		}
		again, jti2, err := t.verifySET(context.Background(), raw)
		if err != nil || jti2 != jti || len(again) != len(changes) {
			tt.Fatalf("verifySET() is not repeatable: %v", err)
		}
	})
}

// FuzzSETClaims feeds arbitrary claim sets to the claim checks, past the
// signature, where the JSON reading is.
func FuzzSETClaims(f *testing.F) {
	tr := oauthtest.NewTransmitter(f)
	now := time.Now()
	t := fuzzTransmitter(f, tr, now)
	iat := strconv.FormatInt(now.Unix(), 10)
	for _, s := range []string{
		`{"iss":"` + tr.URL + `","aud":"` + fuzzAudience + `","iat":` + iat + `,"jti":"1","events":{"` + SessionRevoked + `":{}},"sub_id":{"format":"opaque","id":"a"}}`,
		`{"iss":"` + tr.URL + `","aud":["` + fuzzAudience + `"],"iat":` + iat + `,"jti":"2","toe":` + iat + `,"events":{"` + AssuranceLevelChange + `":{"subject":{"format":"complex","user":{"format":"email","email":"a@b"},"session":{"format":"opaque","id":"s"}},"event_timestamp":` + iat + `}}}`,
		`{"iss":"` + tr.URL + `","aud":"` + fuzzAudience + `","iat":` + iat + `,"jti":"3","events":{"` + TokenClaimsChange + `":{}},"sub_id":{"format":"aliases","identifiers":[{"format":"jwt_id","iss":"i","jti":"j"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(tt *testing.T, payload []byte) {
		changes, jti, err := t.readClaims(payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidSET) {
				tt.Fatalf("readClaims() error = %v, want ErrInvalidSET", err)
			}
			return
		}
		if jti == "" {
			tt.Fatal("readClaims() accepted a SET without jti")
		}
		for _, ch := range changes {
			if ch.m.b == "" || ch.effect == effectNone || ch.at.After(now.Add(t.leeway)) {
				tt.Fatalf("readClaims() returned a change %+v that cannot be", ch)
			}
		}
	})
}
