package outbound

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/oauthgate/oauthgate/internal/authheader"
)

// maxTokenSize bounds an access token: it goes into a header of every
// call, and servers limit headers to some 8-16 KiB.
const maxTokenSize = 8 << 10

// maxExpiresIn bounds expires_in (a year): a larger value is a broken
// server, and the arithmetic stays far from overflow.
const maxExpiresIn = 365 * 24 * 3600

// errMalformed is the cause of every token response that cannot be used.
var errMalformed = errors.New("malformed token response")

// A tokenResponse is the part of a successful token response (RFC 6749
// §5.1, RFC 8693 §2.2.1) that a client uses.
type tokenResponse struct {
	accessToken     string
	tokenType       string        // "Bearer" or "DPoP", canonical case
	expiresIn       time.Duration // 0 when absent
	scope           string
	issuedTokenType string
}

// parseTokenResponse reads a token endpoint's JSON answer. It refuses what
// cannot be sent or trusted: not one JSON object (duplicate names and
// invalid UTF-8 included, with the same JSON reader as the claims),
// access_token missing, empty, longer than 8 KiB or with bytes that cannot
// be a credential in a header (RFC 6750 §2.1 b64token, RFC 9449 §7.1),
// token_type other than Bearer or DPoP (case-insensitive, RFC 6749 §5.1),
// expires_in that is not a whole number of seconds from 1 to a year. Errors
// never quote the body.
func parseTokenResponse(body []byte) (*tokenResponse, error) {
	var raw struct {
		AccessToken     *string  `json:"access_token"`
		TokenType       *string  `json:"token_type"`
		ExpiresIn       *float64 `json:"expires_in"`
		Scope           *string  `json:"scope"`
		IssuedTokenType *string  `json:"issued_token_type"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object with the registered members' types", errMalformed)
	}
	if raw.AccessToken == nil || !authheader.IsB64Token(*raw.AccessToken) || len(*raw.AccessToken) > maxTokenSize {
		return nil, fmt.Errorf("%w: access_token missing or not a token", errMalformed)
	}
	if raw.TokenType == nil {
		return nil, fmt.Errorf("%w: token_type missing", errMalformed)
	}
	r := &tokenResponse{accessToken: *raw.AccessToken}
	switch {
	case strings.EqualFold(*raw.TokenType, "bearer"):
		r.tokenType = "Bearer"
	case strings.EqualFold(*raw.TokenType, "dpop"):
		r.tokenType = "DPoP"
	default:
		return nil, fmt.Errorf("%w: token_type is neither Bearer nor DPoP", errMalformed)
	}
	if raw.ExpiresIn != nil {
		n := *raw.ExpiresIn
		if n != math.Trunc(n) || n < 1 || n > maxExpiresIn {
			return nil, fmt.Errorf("%w: expires_in is not a whole number of seconds from 1 to a year", errMalformed)
		}
		r.expiresIn = time.Duration(n) * time.Second
	}
	if raw.Scope != nil {
		r.scope = *raw.Scope
	}
	if raw.IssuedTokenType != nil {
		r.issuedTokenType = *raw.IssuedTokenType
	}
	return r, nil
}
