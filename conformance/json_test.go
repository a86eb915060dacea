package conformance_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
)

// connectCodes maps the Connect protocol's code names to their numbers.
var connectCodes = map[string]uint32{"permission_denied": 7, "internal": 13, "unavailable": 14, "unauthenticated": 16}

// jsonField returns the string member name of a JSON object.
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	s, _ := m[name].(string)
	return s
}

// errorInfoReason returns the reason of the google.rpc.ErrorInfo detail of
// a Connect protocol error body, "" without one.
func errorInfoReason(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Details []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	for _, d := range e.Details {
		if d.Type != "google.rpc.ErrorInfo" {
			continue
		}
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		if err != nil {
			t.Fatalf("ErrorInfo value %q: %v", d.Value, err)
		}
		var info errdetails.ErrorInfo
		if err := proto.Unmarshal(raw, &info); err != nil {
			t.Fatalf("ErrorInfo: %v", err)
		}
		return info.GetReason()
	}
	return ""
}
