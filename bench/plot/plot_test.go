package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlotsCurrent fails when a committed plot differs from what the
// committed results draw: run go run ./bench/plot (or bash .ci/gen).
func TestPlotsCurrent(t *testing.T) {
	read := func(path string) (string, error) {
		b, err := os.ReadFile(filepath.Join("..", "..", path))
		return string(b), err
	}
	for _, p := range plots {
		t.Run(p.file, func(t *testing.T) {
			got, err := p.draw(read)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("..", "..", "docs", "img", p.file))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("docs/img/%s is stale: run go run ./bench/plot from the repository's root", p.file)
			}
			if !strings.HasPrefix(string(got), "<svg ") || !strings.HasSuffix(string(got), "</svg>\n") {
				t.Errorf("%s is not one svg element", p.file)
			}
		})
	}
}

// TestPlotsBadInput checks that results a plot cannot read are an error
// naming what is wrong, never a panic or an empty plot.
func TestPlotsBadInput(t *testing.T) {
	const fleetHeader = "## Load on the authorization server\n\n| scenario | N | window | endpoint | mean /s | peak /s |\n|---|---|---|---|---|---|\n"
	const opaqueHeader = "## Opaque tokens\n\n| N | shared cache | distinct tokens | introspection mean /s |\n|---|---|---|---|\n"
	tests := map[string]struct {
		draw    func(func(string) (string, error)) ([]byte, error)
		page    string
		wantErr error // nil: any error
	}{
		"FleetNoTable":     {draw: fleetLoad, page: "# nothing here\n", wantErr: errNoTable},
		"FleetNoJWKSRow":   {draw: fleetLoad, page: fleetHeader + "| a | 10 | 0–1m | metadata | 1 | 2 |\n", wantErr: errNoTable},
		"FleetBadNumber":   {draw: fleetLoad, page: fleetHeader + "| a | 10 | 0–1m | JWKS | many | 2 |\n"},
		"FleetBadN":        {draw: fleetLoad, page: fleetHeader + "| a | ten | 0–1m | JWKS | 1 | 2 |\n"},
		"FleetShortRow":    {draw: fleetLoad, page: fleetHeader + "| a | 10 | JWKS |\n"},
		"OpaqueMissingRow": {draw: fleetOpaque, page: opaqueHeader + "| 100 | no | 10 | 71.4 |\n", wantErr: errNoTable},
		"LoadNoTable":      {draw: loadThroughput, page: "Fixed concurrency\n\nno table\n", wantErr: errNoTable},
		"LatencyBadNumber": {draw: loadLatency, page: "Fixed offered rate\n\n| configuration | p50 | p99 | p99.9 |\n|---|---|---|---|\n| x | 1 | - | 3 |\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svg, err := tc.draw(func(string) (string, error) { return tc.page, nil })
			if err == nil {
				t.Fatalf("draw() = %d bytes, nil error; want an error", len(svg))
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("draw() error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}
