package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/oauthgate/oauthgate/examples/reports/serve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := serve.Command{}.Main(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
