// Package redistest starts redis-server processes for tests: each test
// that needs a Redis gets its own, on a free loopback port, with no
// persistence, stopped when the test ends. The fault tests kill, pause and
// restart them.
//
// Without the redis-server binary a test is skipped, with a message that
// names the Debian package to install (redis-server), unless the
// environment variable CI is "true": CI must not pass without the real
// component, so there the test fails.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for a started server to answer PING.
const startTimeout = 10 * time.Second

// Binary is the server program looked up on PATH.
const Binary = "redis-server"

// A Server is a redis-server process started for a test.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Missing returns the message a test without the binary skips (or, under
// CI=true, fails) with, or "" if the binary is on PATH.
func Missing() string {
	if _, err := exec.LookPath(Binary); err != nil {
		return "redistest: " + Binary + " not found on PATH; install the Debian package redis-server (apt-get install redis-server)"
	}
	return ""
}

// Start starts a server for tb with the extra configuration args
// ("--maxmemory", "1mb", ...) and stops it when tb ends. It skips tb when
// the binary is missing, or fails it under CI=true.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	if msg := Missing(); msg != "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg + " (CI=true: the tests need the real server)")
		}
		tb.Skip(msg)
	}
	s, err := New(tb.TempDir(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// New starts a server whose files go to dir, for callers without a
// testing.TB (TestMain). The caller must call Stop.
func New(dir string, args ...string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port, dir: dir, args: args}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"),
	}, s.args...)
	cmd := exec.Command(Binary, args...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", Binary, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.Kill()
		return fmt.Errorf("%w; log: %s", err, s.log())
	}
	return nil
}

// waitReady polls the server with PING until it answers, the process
// exits, or startTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := s.Command("PING"); err == nil {
			return nil
		}
		select {
		case <-s.done:
			return errors.New("redistest: redis-server exited at start")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server did not answer PING within %v", startTimeout)
		}
	}
}

// Command sends one command over a connection of its own and returns the
// first line of the reply, without its type marker; an error reply is an
// error. It is for setting the server up (CONFIG SET, FLUSHALL) and for
// checks, not for speed.
func (s *Server) Command(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	if line[0] == '-' {
		return "", errors.New(line[1:])
	}
	return line[1:], nil
}

// MustCommand is Command for tb, failing it on an error.
func (s *Server) MustCommand(tb testing.TB, args ...string) string {
	tb.Helper()
	r, err := s.Command(args...)
	if err != nil {
		tb.Fatalf("redistest: %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// Kill kills the server (SIGKILL) and waits for it to exit. Clients'
// connections break; new ones are refused.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart kills the server if it runs and starts a new, empty one on the
// same port.
func (s *Server) Restart() error {
	s.Kill()
	return s.start()
}

// Pause stops the server process (SIGSTOP): connections stay open and
// commands get no answer until Resume.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Stop kills the server; it is what Start registers for cleanup.
func (s *Server) Stop() { s.Kill() }

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
