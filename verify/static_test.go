package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestNewKeyIndex(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		key  jose.JSONWebKey
		keep bool
	}{
		"RSAPublic":       {key: jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "k"}, keep: true},
		"RSAPrivate":      {key: jose.JSONWebKey{Key: k.rsa, KeyID: "k"}, keep: true},
		"ECPrivate":       {key: jose.JSONWebKey{Key: k.ec, KeyID: "k"}, keep: true},
		"Ed25519Private":  {key: jose.JSONWebKey{Key: k.ed, KeyID: "k"}, keep: true},
		"UseSig":          {key: jose.JSONWebKey{Key: k.ec.Public(), KeyID: "k", Use: "sig"}, keep: true},
		"UseEnc":          {key: jose.JSONWebKey{Key: k.ec.Public(), KeyID: "k", Use: "enc"}},
		"Symmetric":       {key: jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "k"}},
		"Invalid":         {key: jose.JSONWebKey{Key: &rsa.PublicKey{}, KeyID: "k"}},
		"NoKey":           {key: jose.JSONWebKey{KeyID: "k"}},
		"RSA1024":         {key: jose.JSONWebKey{Key: small.Public(), KeyID: "k"}},
		"P224":            {key: jose.JSONWebKey{Key: p224.Public(), KeyID: "k"}},
		"UnsupportedType": {key: jose.JSONWebKey{Key: "not a key", KeyID: "k"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A usable filler key keeps the index non-empty either way.
			filler := jose.JSONWebKey{Key: k.ed.Public(), KeyID: "filler"}
			idx, err := newKeyIndex([]jose.JSONWebKey{tc.key, filler})
			if err != nil {
				t.Fatalf("newKeyIndex() error = %v", err)
			}
			keys, err := idx.lookup("k")
			if !tc.keep {
				if !errors.Is(err, ErrUnknownKey) || len(idx.all) != 1 {
					t.Fatalf("lookup(k) = %d keys, %v; all = %d; want key dropped", len(keys), err, len(idx.all))
				}
				return
			}
			if err != nil || len(keys) != 1 {
				t.Fatalf("lookup(k) = %d keys, %v; want 1 key", len(keys), err)
			}
			if !keys[0].IsPublic() || !keys[0].Valid() {
				t.Errorf("lookup(k) key is public %t, valid %t; want a valid public key", keys[0].IsPublic(), keys[0].Valid())
			}
		})
	}
}

func TestKeyIndex_Lookup(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	idx, err := newKeyIndex([]jose.JSONWebKey{
		{Key: k.rsa.Public(), KeyID: "a", Algorithm: "RS256"},
		{Key: k.rsa.Public(), KeyID: "a", Algorithm: "PS256"},
		{Key: k.ec.Public()}, // no kid: only found when the token names none
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		kid       string
		wantCount int
		wantErr   error
	}{
		"SharedKID": {kid: "a", wantCount: 2},
		"NoKID":     {kid: "", wantCount: 3},
		"Unknown":   {kid: "b", wantErr: ErrUnknownKey},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			keys, err := idx.lookup(tc.kid)
			if !errors.Is(err, tc.wantErr) || len(keys) != tc.wantCount {
				t.Fatalf("lookup(%q) = %d keys, %v; want %d, %v", tc.kid, len(keys), err, tc.wantCount, tc.wantErr)
			}
			if tc.wantErr != nil {
				te, ok := errors.AsType[*TokenError](err)
				if !ok || te.Claim != "kid" || !errors.Is(err, ErrInvalidToken) {
					t.Errorf("lookup(%q) error = %#v, want *TokenError for kid", tc.kid, err)
				}
			}
		})
	}
}

func TestNewStaticKeySet_NoUsableKeys(t *testing.T) {
	t.Parallel()
	tests := map[string][]jose.JSONWebKey{
		"None":      nil,
		"OnlyHMAC":  {{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "h"}},
		"OnlyEnc":   {{Key: jwtTestKeys().ec.Public(), Use: "enc"}},
		"OnlyEmpty": {{}},
	}
	for name, keys := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if ks, err := NewStaticKeySet(keys...); err == nil || ks != nil {
				t.Fatalf("NewStaticKeySet() = %v, %v; want an error", ks, err)
			}
		})
	}
}

func jwksDocument(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	good := jwksDocument(t,
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "rsa", Use: "sig", Algorithm: "RS256"},
		jose.JSONWebKey{Key: k.ec.Public(), KeyID: "ec"},
	)
	// An unknown kty must be skipped, not fail the whole set (RFC 7517 §5).
	withUnknown := strings.Replace(string(good), `"keys":[`, `"keys":[{"kty":"PQ","kid":"future"},{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"hmac"},`, 1)
	tests := map[string]struct {
		doc      string
		wantKIDs []string
		wantErr  bool
	}{
		"Valid":             {doc: string(good), wantKIDs: []string{"rsa", "ec"}},
		"UnknownKeySkipped": {doc: withUnknown, wantKIDs: []string{"rsa", "ec"}},
		"NotJSON":           {doc: `<html>`, wantErr: true},
		"Array":             {doc: `[]`, wantErr: true},
		"NoKeysMember":      {doc: `{}`, wantErr: true},
		"KeysNotArray":      {doc: `{"keys":{}}`, wantErr: true},
		"EmptyKeys":         {doc: `{"keys":[]}`, wantErr: true},
		"OnlySymmetric":     {doc: `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`, wantErr: true},
		"TooLarge":          {doc: `{"keys":[]` + strings.Repeat(" ", maxJWKSSize) + `}`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ks, err := ParseJWKS([]byte(tc.doc))
			if tc.wantErr {
				if err == nil || ks != nil || !strings.HasPrefix(err.Error(), "verify: ") {
					t.Fatalf("ParseJWKS() = %v, %v; want a verify: error", ks, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseJWKS() error = %v", err)
			}
			for _, kid := range tc.wantKIDs {
				if keys, err := ks.Keys(t.Context(), kid); err != nil || len(keys) != 1 {
					t.Errorf("Keys(%q) = %d keys, %v; want 1", kid, len(keys), err)
				}
			}
			if all, _ := ks.Keys(t.Context(), ""); len(all) != len(tc.wantKIDs) {
				t.Errorf("Keys(\"\") = %d keys, want %d", len(all), len(tc.wantKIDs))
			}
		})
	}
}

func TestLoadJWKS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(good, jwksDocument(t, jose.JSONWebKey{Key: jwtTestKeys().ed.Public(), KeyID: "ed"}), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path    string
		wantErr bool
	}{
		"Valid":   {path: good},
		"Missing": {path: filepath.Join(dir, "missing.json"), wantErr: true},
		"NoKeys":  {path: bad, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ks, err := LoadJWKS(tc.path)
			if tc.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), "verify: load JWKS") {
					t.Fatalf("LoadJWKS() = %v, %v; want a verify: load JWKS error", ks, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadJWKS() error = %v", err)
			}
			if keys, err := ks.Keys(t.Context(), "ed"); err != nil || len(keys) != 1 {
				t.Errorf("Keys(ed) = %d keys, %v; want 1", len(keys), err)
			}
		})
	}
	// The not-found cause stays reachable.
	if _, err := LoadJWKS(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadJWKS(missing) error = %v, want os.ErrNotExist", err)
	}
}
