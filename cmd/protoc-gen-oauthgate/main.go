package main

import (
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/proto"
)

func main() {
	os.Exit(pluginMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// pluginMain does what protoc expects of a plugin: a CodeGeneratorRequest on
// in, a CodeGeneratorResponse on out. Problems with the .proto files go in
// the response's error field, which protoc and buf print and fail on; only
// input that is not a request at all, or a failed write, exits non-zero.
func pluginMain(args []string, in io.Reader, out, errOut io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(errOut, "protoc-gen-oauthgate is a protoc plugin: run it through protoc (--oauthgate_out) or buf generate; "+
			"see go doc github.com/oauthgate/oauthgate/cmd/protoc-gen-oauthgate")
		return 2
	}
	data, err := io.ReadAll(in)
	if err != nil {
		fmt.Fprintf(errOut, "protoc-gen-oauthgate: reading the request: %v\n", err)
		return 1
	}
	resp, err := handle(data, osEnv())
	if err != nil {
		fmt.Fprintf(errOut, "protoc-gen-oauthgate: %v\n", err)
		return 1
	}
	b, err := proto.Marshal(resp)
	if err != nil {
		fmt.Fprintf(errOut, "protoc-gen-oauthgate: encoding the response: %v\n", err)
		return 1
	}
	if _, err := out.Write(b); err != nil {
		fmt.Fprintf(errOut, "protoc-gen-oauthgate: writing the response: %v\n", err)
		return 1
	}
	return 0
}
