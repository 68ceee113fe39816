// Package redistest finds the Redis server the tests use, and starts
// private ones for tests that stop and restart their server.
//
// The shared server is KCI_TEST_REDIS_ADDR (default 127.0.0.1:6379;
// .ci/run installs redis-server and starts it there). Tests that need it
// skip, saying why, only when no server answers there.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the environment variable with the address of the test
// server.
const EnvAddr = "KCI_TEST_REDIS_ADDR"

// DefaultAddr is the address used when EnvAddr is not set.
const DefaultAddr = "127.0.0.1:6379"

// Addr returns the address of the shared test server, skipping the test
// when none answers there.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		addr = DefaultAddr
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("no Redis server answers at %s (%v): install and start redis-server "+
			"(as .ci/run does) or set %s to run this test", addr, err, EnvAddr)
	}
	return addr
}

// Client returns a plain client of database db on addr, closed at the
// end of the test.
func Client(t testing.TB, addr string, db int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	t.Cleanup(func() { c.Close() })
	return c
}

// Unique returns a name not used by any other test run (keys, lists).
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// Server is a redis-server process of a test.
type Server struct {
	Addr string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Binary returns the path of redis-server, skipping the test when there
// is none.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server, as .ci/run does): this test starts and stops its own")
	}
	return p
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs a private redis-server on port (no persistence), waits until
// it answers, and stops it at the end of the test.
func Start(t testing.TB, port int) *Server {
	t.Helper()
	bin := Binary(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		select {
		case <-s.done:
			t.Fatalf("redis-server on port %d exited at start-up", port)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d does not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}
