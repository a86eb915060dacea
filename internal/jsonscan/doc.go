// Package jsonscan is a validating JSON (RFC 8259) scanner for reading
// claim sets in one pass, without reflection or maps.
//
// It accepts exactly what encoding/json's Valid accepts, and a differential
// fuzz target (FuzzValid) holds it to that. Its users read the members they
// know by their exact names and skip the rest with [Scanner.Value]; package
// verify's claim reader, the only reader of registered claims in oauthgate,
// is built on it, and its own fuzz target compares every value it reads with
// encoding/json.
//
// A Scanner never allocates; [Unquote] does, and only for string literals
// that hold escapes or non-ASCII bytes.
package jsonscan
