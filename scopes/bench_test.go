package scopes

import (
	"testing"

	testpb "github.com/oauthgate/oauthgate/internal/testproto/oauthgatetest/v1"
)

func BenchmarkPolicy_Lookup(b *testing.B) {
	p, err := NewPolicy(FromFiles(testpb.File_oauthgatetest_v1_library_proto))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.Rule(lib + "Chat"); !ok {
			b.Fatal("no rule")
		}
	}
}

func BenchmarkRule_Allows(b *testing.B) {
	r := AnyOf(AllOf("library.read"), AllOf("library.admin", "library.write"))
	granted := mustSet(b, "openid profile email library.admin library.write offline_access")
	b.ReportAllocs()
	for b.Loop() {
		if !r.Allows(granted) {
			b.Fatal("denied")
		}
	}
}
