package josekeys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestFits(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := []struct {
		name string
		key  jose.JSONWebKey
		alg  jose.SignatureAlgorithm
		want bool
	}{
		{"P256/ES256", jose.JSONWebKey{Key: &ec256.PublicKey}, jose.ES256, true},
		{"P256/ES384", jose.JSONWebKey{Key: &ec256.PublicKey}, jose.ES384, false},
		{"P384/ES384", jose.JSONWebKey{Key: &ec384.PublicKey}, jose.ES384, true},
		{"Ed25519/EdDSA", jose.JSONWebKey{Key: edPub}, jose.EdDSA, true},
		{"Ed25519/ES256", jose.JSONWebKey{Key: edPub}, jose.ES256, false},
		{"RSA2048/PS256", jose.JSONWebKey{Key: &rsa2048.PublicKey}, jose.PS256, true},
		{"RSA2048/ES256", jose.JSONWebKey{Key: &rsa2048.PublicKey}, jose.ES256, false},
		{"RSA1024/RS256", jose.JSONWebKey{Key: &rsa1024.PublicKey}, jose.RS256, false},
		{"JWKAlgOther", jose.JSONWebKey{Key: &rsa2048.PublicKey, Algorithm: "RS384"}, jose.RS256, false},
		{"UseEnc", jose.JSONWebKey{Key: &ec256.PublicKey, Use: "enc"}, jose.ES256, false},
		{"HMACKey", jose.JSONWebKey{Key: []byte("secret")}, jose.HS256, false},
	}
	for _, tc := range tests {
		if got := Fits(&tc.key, tc.alg); got != tc.want {
			t.Errorf("%s: Fits() = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestAllowlist(t *testing.T) {
	all, err := Allowlist(nil)
	if err != nil || len(all) != 10 {
		t.Fatalf("Allowlist(nil) = %v, %v", all, err)
	}
	got, err := Allowlist([]jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.ES256})
	if err != nil || len(got) != 2 {
		t.Errorf("Allowlist(duplicates) = %v, %v", got, err)
	}
	for _, bad := range []jose.SignatureAlgorithm{jose.HS256, "none", "XX"} {
		if _, err := Allowlist([]jose.SignatureAlgorithm{bad}); err == nil {
			t.Errorf("Allowlist(%s) succeeded", bad)
		}
	}
}
