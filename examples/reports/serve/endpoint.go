package serve

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
)

// An Endpoint is an HTTP handler that a [Command] serves beside the gRPC
// server, on a listener of its own, such as a Prometheus /metrics
// endpoint. Plain HTTP: it is for loopback or a private network, like
// -metadata-addr.
type Endpoint struct {
	// Name names the endpoint in the log and in Command.OnListen. It is
	// required, and must not be "grpc" or "metadata".
	Name string
	// Flag is the name, without the dash, of the flag that sets the
	// endpoint's listen address (host:port). It is required. An empty
	// address on the command line turns the endpoint off.
	Flag string
	// Default is the flag's default address; "" is off by default.
	Default string
	// Usage is the flag's help text; a word in back quotes names its value
	// (see flag.PrintDefaults).
	Usage string
	// Handler serves every request of the listener. It is required.
	Handler http.Handler
}

// endpointFlags checks the Endpoints and defines their address flags on
// fs, which already holds the server's, into cfg.endpoints.
func (c Command) endpointFlags(fs *flag.FlagSet, cfg *config) error {
	cfg.endpoints = make([]string, len(c.Endpoints))
	names := map[string]bool{listenerGRPC: true, listenerMetadata: true}
	for i, e := range c.Endpoints {
		switch {
		case e.Name == "":
			return fmt.Errorf("serve: Command.Endpoints[%d].Name is empty", i)
		case names[e.Name]:
			return fmt.Errorf("serve: Command.Endpoints[%d].Name %q is taken", i, e.Name)
		case e.Flag == "" || strings.HasPrefix(e.Flag, "-") || strings.ContainsAny(e.Flag, "= \t"):
			return fmt.Errorf("serve: Command.Endpoints[%d].Flag %q: want a flag name without the dash", i, e.Flag)
		case fs.Lookup(e.Flag) != nil:
			return fmt.Errorf("serve: Command.Endpoints[%d].Flag -%s is already a flag", i, e.Flag)
		case e.Handler == nil:
			return fmt.Errorf("serve: Command.Endpoints[%d].Handler is nil", i)
		}
		names[e.Name] = true
		fs.StringVar(&cfg.endpoints[i], e.Flag, e.Default, e.Usage)
	}
	return nil
}

// validateEndpoints checks the Endpoints' addresses in cfg.
func (c Command) validateEndpoints(cfg config) error {
	for i, addr := range cfg.endpoints {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("-%s %q: want host:port", c.Endpoints[i].Flag, addr)
		}
	}
	return nil
}

// httpListener is an HTTP handler to serve on a listener of its own.
type httpListener struct {
	name, flag, addr string
	handler          http.Handler
}

// listenHTTP listens on every one of ls, or on none: after an error it
// closes those it opened.
func listenHTTP(ls []httpListener) ([]net.Listener, error) {
	lis := make([]net.Listener, 0, len(ls))
	for _, l := range ls {
		li, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, li := range lis {
				_ = li.Close()
			}
			return nil, fmt.Errorf("-%s: %w", l.flag, err)
		}
		lis = append(lis, li)
	}
	return lis, nil
}

// serveHTTP serves each of ls on its listener until the returned function
// is called, which closes them and waits for their Serve calls to return.
func serveHTTP(ls []httpListener, lis []net.Listener, logger *slog.Logger) (closeAll func()) {
	var wg sync.WaitGroup
	servers := make([]*http.Server, len(ls))
	for i, l := range ls {
		servers[i] = &http.Server{Handler: l.handler, ReadHeaderTimeout: readHeaderTimeout}
		wg.Go(func() { _ = servers[i].Serve(lis[i]) })
		logger.Info("serving HTTP", "name", l.name, "addr", lis[i].Addr().String())
	}
	return func() {
		for _, s := range servers {
			_ = s.Close() // closes the listener too; Serve then returns
		}
		wg.Wait()
	}
}
