package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// defaultTestTimeout bounds every command a test runs; building buf the
// first time takes a while on a cold cache.
const defaultTestTimeout = 5 * time.Minute

// buildPlugin builds the plugin binary, as go install would.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "protoc-gen-oauthgate")
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinary runs the plugin as protoc does: a serialized
// CodeGeneratorRequest on stdin, the response on stdout.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := buildPlugin(t)
	run := func(t *testing.T, stdin []byte, args ...string) (stdout, stderr []byte, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.Bytes(), errOut.Bytes(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.Bytes(), errOut.Bytes(), 0
	}

	t.Run("UnannotatedRPC", func(t *testing.T) {
		in, err := proto.Marshal(request(t, "", fixtureMissing))
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := run(t, in)
		if code != 0 {
			t.Fatalf("exit code %d, want 0 (the error goes in the response); stderr: %s", code, stderr)
		}
		resp := new(pluginpb.CodeGeneratorResponse)
		if err := proto.Unmarshal(stdout, resp); err != nil {
			t.Fatalf("stdout is not a CodeGeneratorResponse: %v", err)
		}
		const want = "oauthgatetest/lint/v1/missing.proto:19:3: /oauthgatetest.lint.v1.NotesService/ListNotes has no rule"
		if !strings.Contains(resp.GetError(), want) {
			t.Errorf("response error = %q, want it to contain %q", resp.GetError(), want)
		}
		if len(resp.GetFile()) != 0 {
			t.Errorf("response has %d files, want none when the build fails", len(resp.GetFile()))
		}
	})
	t.Run("Report", func(t *testing.T) {
		in, err := proto.Marshal(request(t, "report=POLICY.md", fixtureChecks))
		if err != nil {
			t.Fatal(err)
		}
		stdout, _, code := run(t, in)
		resp := new(pluginpb.CodeGeneratorResponse)
		if err := proto.Unmarshal(stdout, resp); code != 0 || err != nil {
			t.Fatalf("exit code %d, %v", code, err)
		}
		if resp.Error != nil || len(resp.GetFile()) != 1 || resp.GetFile()[0].GetName() != "POLICY.md" {
			t.Errorf("response = %v, want POLICY.md alone", resp)
		}
	})
	t.Run("NotARequest", func(t *testing.T) {
		stdout, stderr, code := run(t, []byte("\xff\xff not protobuf"))
		if code != 1 || len(stdout) != 0 || !strings.Contains(string(stderr), "not a CodeGeneratorRequest") {
			t.Errorf("exit code %d, stdout %q, stderr %q; want 1, nothing, a message", code, stdout, stderr)
		}
	})
	t.Run("Arguments", func(t *testing.T) {
		_, stderr, code := run(t, nil, "--help")
		if code != 2 || !strings.Contains(string(stderr), "protoc plugin") {
			t.Errorf("exit code %d, stderr %q; want 2 and a hint", code, stderr)
		}
	})
}

// TestBufGenerate runs buf generate, with managed mode on, on a module laid
// out as docs/generating.md says: a service
// with an unannotated RPC fails the build with the method and its line.
func TestBufGenerate(t *testing.T) {
	t.Parallel()
	bin := buildPlugin(t)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	bufBin, err := exec.CommandContext(ctx, "go", "tool", "-modfile=../../internal/tools/buf/go.mod", "-n", "buf").Output()
	if err != nil {
		t.Fatalf("go tool -n buf: %v", err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fixture, err := os.ReadFile("../../internal/testproto/" + fixtureMissing)
	if err != nil {
		t.Fatal(err)
	}
	write("proto/"+fixtureMissing, string(fixture))
	annotations, err := filepath.Abs("../../proto")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "third_party"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(annotations, filepath.Join(dir, "third_party", "oauthgate")); err != nil {
		t.Fatal(err)
	}
	write("buf.yaml", "version: v2\nmodules:\n  - path: proto\n  - path: third_party/oauthgate\n")
	write("buf.gen.yaml", `version: v2
managed:
  enabled: true
  disable:
    - file_option: go_package
      path: oauthgate
  override:
    - file_option: go_package_prefix
      value: example.com/notes/gen
plugins:
  - local: `+bin+`
    out: gen
    strategy: all
    opt: report=POLICY.md
inputs:
  - directory: proto
`)
	cmd := exec.CommandContext(ctx, strings.TrimSpace(string(bufBin)), "generate")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("buf generate succeeded on an unannotated RPC:\n%s", out)
	}
	for _, want := range []string{
		"oauthgatetest/lint/v1/missing.proto:19:3: /oauthgatetest.lint.v1.NotesService/ListNotes has no rule",
		"oauthgatetest/lint/v1/missing.proto:25:3: /oauthgatetest.lint.v1.BareService/Ping has no rule",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("buf generate output:\n%s\nwant it to contain %q", out, want)
		}
	}
	t.Logf("buf generate:\n%s", out)
	if _, err := os.Stat(filepath.Join(dir, "gen", "POLICY.md")); err == nil {
		t.Errorf("buf generate wrote POLICY.md although the policy is incomplete")
	}
}
