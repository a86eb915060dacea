package main

import (
	"os"
	"regexp"
	"testing"
)

// TestREADME checks that the README shows these files exactly: each
// "<!-- compiled: path -->" marker is followed by a code block holding the
// whole file, so the README's quickstart and test compile as written.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- compiled: (\\S+) -->\n```go\n(.*?)```\n").FindAllSubmatch(readme, -1)
	want := map[string]bool{"examples/quickstart/main.go": false, "examples/quickstart/report_test.go": false}
	for _, b := range blocks {
		path := string(b[1])
		if _, ok := want[path]; !ok {
			t.Errorf("README shows %s, which this test does not know", path)
			continue
		}
		want[path] = true
		file, err := os.ReadFile("../../" + path)
		if err != nil {
			t.Fatal(err)
		}
		if string(file) != string(b[2]) {
			t.Errorf("README's copy of %s differs from the file; paste the file into the README", path)
		}
	}
	for path, found := range want {
		if !found {
			t.Errorf("README lacks the marked copy of %s", path)
		}
	}
}
