package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Throwaway servers: a test that stops a server starts its own, so the shared ones stay up.

// SkipLogEnv names the variable with a file that Unavailable appends a line to for every test
// it skips: the test's directory, its name and what was missing (the message up to its first
// ": "), tab-separated. scripts/test.sh sets it and prints what was skipped after the run.
const SkipLogEnv = "WFR_TEST_SKIP_LOG"

// Unavailable skips the test for want of a server or its setting, e.g. "WFR_TEST_REDIS_URL is
// not set" (fails it under CI=true, where nothing passes by skipping), and records the skip in
// the file named by $WFR_TEST_SKIP_LOG, if set.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: the tests that need it must run)", msg)
	}
	if path := os.Getenv(SkipLogEnv); path != "" {
		if err := logSkip(path, t.Name(), msg); err != nil {
			t.Errorf("record the skip in %s=%s: %v", SkipLogEnv, path, err)
		}
	}
	t.Skip(msg)
}

// logSkip appends "<dir>\t<test>\t<what>\n" to path, in one write, so that test processes
// running at the same time do not interleave their lines.
func logSkip(path, test, msg string) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	what, _, _ := strings.Cut(msg, ": ")
	what = strings.NewReplacer("\t", " ", "\n", " ").Replace(what)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s\t%s\t%s\n", dir, test, what)
	return errors.Join(err, f.Close())
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on, for a server a test starts,
// chosen below the kernel's ephemeral range (ip_local_port_range). There, no outgoing
// connection takes it as its local port: a client redialling a stopped test server on an
// ephemeral port can connect to itself (TCP simultaneous open when the kernel picks the
// destination port as the source), which answered the client with its own commands and kept
// the restarted server from binding its port.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	const floor = 10000
	for range 1000 {
		port := floor + rand.IntN(low-floor)
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		_ = ln.Close()
		return port
	}
	t.Fatalf("no free port between %d and %d", floor, low)
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default 32768 when it
// cannot be read).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= 10001 {
		return 32768
	}
	return low
}

// RedisServer is a throwaway redis-server child process on a port of its own.
type RedisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
	tls  *TLSFiles // set: the port speaks TLS only

	exited chan struct{} // closed once cmd has exited
}

// StartRedis runs a throwaway redis-server (no persistence), stopped when the test ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Unavailable(t, "redis-server is not installed: %v", err)
	}
	r := &RedisServer{t: t, port: FreePort(t)}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// StartRedisTLS is StartRedis with the port speaking TLS only (certificate files), clients not
// asked for a certificate. Its URL is rediss://.
func StartRedisTLS(t testing.TB, files *TLSFiles) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Unavailable(t, "redis-server is not installed: %v", err)
	}
	r := &RedisServer{t: t, port: FreePort(t), tls: files}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the server's redis:// (rediss:// with TLS) URL.
func (r *RedisServer) URL() string {
	if r.tls != nil {
		return fmt.Sprintf("rediss://127.0.0.1:%d/0", r.port)
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port)
}

// Start starts the server on its port and waits until it answers.
func (r *RedisServer) Start() {
	r.t.Helper()
	// Bound to the test: Stop (a cleanup) kills it anyway.
	args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"}
	opts := &redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)}
	if r.tls != nil {
		args[1] = "0" // no cleartext port
		args = append(args, "--tls-port", strconv.Itoa(r.port), "--tls-cert-file", r.tls.Cert,
			"--tls-key-file", r.tls.Key, "--tls-ca-cert-file", r.tls.Cert, "--tls-auth-clients", "no")
		opts.TLSConfig = r.tls.ClientConfig(r.t)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(r.t.Context(), "redis-server", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited
	client := redis.NewClient(opts)
	defer func() { _ = client.Close() }()
	Poll(r.t, 10*time.Second, func() error {
		select {
		case <-exited: // its port was taken, say
			r.t.Fatalf("redis-server on port %d exited:\n%s", r.port, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		info, err := client.Info(ctx, "server").Result()
		if err != nil {
			return fmt.Errorf("redis-server on port %d does not answer: %w", r.port, err)
		}
		// The server that answers is this one.
		if !strings.Contains(info, fmt.Sprintf("process_id:%d\r\n", cmd.Process.Pid)) {
			return fmt.Errorf("port %d is answered by a Redis that is not this test's (pid %d)", r.port, cmd.Process.Pid)
		}
		return nil
	})
}

// Stop kills the server and waits for it to exit. Idempotent.
func (r *RedisServer) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// PostgresServer is a throwaway PostgreSQL cluster in a temporary directory.
type PostgresServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	opts string // more server options for pg_ctl -o
}

// pgBinDir finds the PostgreSQL server binaries.
func pgBinDir() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

// StartPostgres creates and starts a throwaway cluster (trust authentication, user postgres),
// stopped and removed when the test ends. PostgreSQL refuses to run as root, so as root the
// cluster belongs to the postgres user and its commands run through runuser.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	return startPostgres(t, nil, "")
}

// StartPostgresWith is StartPostgres with server settings of its own, each "name=value" (as
// postgres -c takes them), e.g. "shared_preload_libraries=pg_stat_statements".
func StartPostgresWith(t testing.TB, settings ...string) *PostgresServer {
	t.Helper()
	var opts string
	for _, s := range settings {
		opts += " -c " + s
	}
	return startPostgres(t, nil, opts)
}

// StartPostgresTLS is StartPostgres with TLS on (ssl=on with the certificate files); clients
// choose it with sslmode in the URL.
func StartPostgresTLS(t testing.TB, files *TLSFiles) *PostgresServer {
	t.Helper()
	return startPostgres(t, files, "")
}

func startPostgres(t testing.TB, tlsFiles *TLSFiles, opts string) *PostgresServer {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		Unavailable(t, "no PostgreSQL server binaries under /usr/lib/postgresql")
	}
	dir, err := os.MkdirTemp("", "wfr-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Unavailable(t, "running as root and there is no postgres user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p := &PostgresServer{t: t, bin: bin, dir: dir, port: FreePort(t), opts: opts}
	if tlsFiles != nil {
		// The server reads its key only when the postgres user owns it, mode 0600.
		for _, f := range []struct{ from, to string }{{tlsFiles.Cert, "server.crt"}, {tlsFiles.Key, "server.key"}} {
			data, err := os.ReadFile(f.from)
			if err != nil {
				t.Fatal(err)
			}
			to := filepath.Join(dir, f.to)
			if err := os.WriteFile(to, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if uid >= 0 {
				if err := os.Chown(to, uid, gid); err != nil {
					t.Fatal(err)
				}
			}
		}
		p.opts += fmt.Sprintf(" -c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s", filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	}
	if out, err := p.command(t.Context(), "initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "--no-sync").CombinedOutput(); err != nil {
		Unavailable(t, "initdb: %v\n%s", err, out)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// command runs a PostgreSQL binary, as the postgres user when the test runs as root.
func (p *PostgresServer) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

// URL is the cluster's postgres:// URL (database postgres).
func (p *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the cluster and waits until it accepts connections (pg_ctl -w).
func (p *PostgresServer) Start() {
	p.t.Helper()
	out, err := p.command(p.t.Context(), "pg_ctl", "-D", filepath.Join(p.dir, "data"), "-w", "-t", "30",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)+p.opts,
		"-l", filepath.Join(p.dir, "log"), "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the cluster at once (fast mode: connections are closed). Idempotent. Not bound to
// the test's context: as a cleanup it runs after that is cancelled.
func (p *PostgresServer) Stop() {
	_ = p.command(context.Background(), "pg_ctl", "-D", filepath.Join(p.dir, "data"), "-w", "-m", "fast", "stop").Run()
}
