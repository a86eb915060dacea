package serve

import (
	"io"
	"log/slog"
	"strings"
)

// newLogger returns the slog logger for format.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// oneLine renders err on one line for the log: the lines of joined errors
// are separated by "; ", and each drops the leading "pkg: context: "
// segments it shares with the line before, so that a prefix such as
// "verify: cannot verify token now: " appears once.
func oneLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	out := make([]string, 0, len(lines))
	var prev []string
	for _, line := range lines {
		segs := strings.Split(line, ": ")
		n := 0
		for n < len(segs)-1 && n < len(prev)-1 && segs[n] == prev[n] {
			n++
		}
		if rest := strings.Join(segs[n:], ": "); rest != "" {
			out = append(out, rest)
		}
		prev = segs
	}
	return strings.Join(out, "; ")
}
