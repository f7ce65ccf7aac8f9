package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/starling-otel/starling/node"
)

// newFlags returns the root command's flag set with its options.
func newFlags() (*options, *pflag.FlagSet) {
	o := &options{cfg: node.DefaultConfig()}
	fs := pflag.NewFlagSet("starling", pflag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	o.addFlags(fs)
	return o, fs
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "starling.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestApplySourcesPrecedence(t *testing.T) {
	const yaml = `
data-dir: /from/yaml
partitions: 32
retention-logs: 3d
max-request-bytes: 4MiB
sync-writes: true
bind: 10.0.0.1
log-level: debug
`
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		yaml  string
		check func(t *testing.T, o *options)
	}{
		{"defaults", nil, nil, "", func(t *testing.T, o *options) {
			d := node.DefaultConfig()
			if o.cfg.DataDir != d.DataDir || o.cfg.Partitions != d.Partitions || o.cfg.RetentionLogs != d.RetentionLogs ||
				o.cfg.MaxRequestBytes != d.MaxRequestBytes || o.cfg.SyncWrites || o.cfg.Bind != "" || o.logLevel != "info" {
				t.Errorf("got %+v, log level %q; want the defaults", o.cfg, o.logLevel)
			}
		}},
		{"yaml beats default", nil, nil, yaml, func(t *testing.T, o *options) {
			if o.cfg.DataDir != "/from/yaml" || o.cfg.Partitions != 32 || o.cfg.RetentionLogs != 72*time.Hour ||
				o.cfg.MaxRequestBytes != 4<<20 || !o.cfg.SyncWrites || o.cfg.Bind != "10.0.0.1" || o.logLevel != "debug" {
				t.Errorf("got %+v, log level %q; want the YAML values", o.cfg, o.logLevel)
			}
		}},
		{"env beats yaml", nil, map[string]string{
			"STARLING_DATA_DIR": "/from/env", "STARLING_PARTITIONS": "64", "STARLING_RETENTION_LOGS": "90m",
			"STARLING_MAX_REQUEST_BYTES": "1MiB", "STARLING_SYNC_WRITES": "false", "STARLING_LOG_LEVEL": "warn",
		}, yaml, func(t *testing.T, o *options) {
			if o.cfg.DataDir != "/from/env" || o.cfg.Partitions != 64 || o.cfg.RetentionLogs != 90*time.Minute ||
				o.cfg.MaxRequestBytes != 1<<20 || o.cfg.SyncWrites || o.logLevel != "warn" {
				t.Errorf("got %+v, log level %q; want the environment's values", o.cfg, o.logLevel)
			}
			if o.cfg.Bind != "10.0.0.1" {
				t.Errorf("bind %q: a key only in the file must still apply", o.cfg.Bind)
			}
		}},
		{"flag beats env and yaml", []string{"--data-dir", "/from/flag", "--partitions=128", "--retention-logs", "2w", "--max-request-bytes", "512KiB", "--sync-writes=false"},
			map[string]string{"STARLING_DATA_DIR": "/from/env", "STARLING_PARTITIONS": "64"}, yaml, func(t *testing.T, o *options) {
				if o.cfg.DataDir != "/from/flag" || o.cfg.Partitions != 128 || o.cfg.RetentionLogs != 14*24*time.Hour ||
					o.cfg.MaxRequestBytes != 512<<10 || o.cfg.SyncWrites {
					t.Errorf("got %+v; want the flags' values", o.cfg)
				}
				if o.logLevel != "debug" {
					t.Errorf("log level %q: want the YAML's debug", o.logLevel)
				}
			}},
		{"flag beats env", []string{"--http-port", "4000"}, map[string]string{"STARLING_HTTP_PORT": "5000", "STARLING_OTLP_GRPC_PORT": "6000"}, "", func(t *testing.T, o *options) {
			if o.cfg.HTTPPort != 4000 || o.cfg.OTLPGRPCPort != 6000 {
				t.Errorf("http port %d, otlp grpc port %d; want 4000 (flag) and 6000 (env)", o.cfg.HTTPPort, o.cfg.OTLPGRPCPort)
			}
		}},
		{"empty env value counts", nil, map[string]string{"STARLING_BIND": ""}, yaml, func(t *testing.T, o *options) {
			if o.cfg.Bind != "" {
				t.Errorf("bind %q: an empty STARLING_BIND is a value and beats the file", o.cfg.Bind)
			}
		}},
		{"yaml null keeps default", nil, nil, "data-dir:\n", func(t *testing.T, o *options) {
			if o.cfg.DataDir != node.DefaultConfig().DataDir {
				t.Errorf("data dir %q", o.cfg.DataDir)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, fs := newFlags()
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			path := ""
			if c.yaml != "" {
				path = writeFile(t, c.yaml)
			}
			if err := applySources(fs, path, envOf(c.env)); err != nil {
				t.Fatalf("applySources: %v", err)
			}
			c.check(t, o)
		})
	}
}

// The file named by --config is read (main passes o.configPath, which the
// flag sets).
func TestApplySourcesConfigFlag(t *testing.T) {
	o, fs := newFlags()
	path := writeFile(t, "partitions: 8\n")
	if err := fs.Parse([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if o.configPath != path {
		t.Fatalf("configPath %q, want %q", o.configPath, path)
	}
	if err := applySources(fs, o.configPath, envOf(nil)); err != nil {
		t.Fatal(err)
	}
	if v := o.cfg.Partitions; v != 8 {
		t.Errorf("partitions %d, want 8 from %s", v, path)
	}
}

func TestApplySourcesErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		yaml    string // "" means no file; "<missing>" a path that does not exist
		env     map[string]string
		mention []string
	}{
		{"unknown key", "data-dir: /x\nretention: 7d\n", nil, []string{`unknown key "retention"`}},
		{"first unknown key in order", "zeta: 1\nalpha: 2\n", nil, []string{`"alpha"`}},
		{"config key in the file", "config: other.yaml\n", nil, []string{`unknown key "config"`}},
		{"env var name is not a key", "STARLING_DATA_DIR: /x\n", nil, []string{`unknown key "STARLING_DATA_DIR"`}},
		{"missing file", "<missing>", nil, []string{"config", "no such file"}},
		{"not yaml", "data-dir: [unclosed\n", nil, []string{"config"}},
		{"not a map", "- a\n- b\n", nil, []string{"config"}},
		{"bad value in file", "partitions: many\n", nil, []string{"partitions"}},
		{"bad duration in file", "retention-traces: forever\n", nil, []string{"retention-traces", "forever"}},
		{"bad env value", "", map[string]string{"STARLING_PARTITIONS": "many"}, []string{"STARLING_PARTITIONS", "many"}},
		{"bad env size", "", map[string]string{"STARLING_MAX_REQUEST_BYTES": "huge"}, []string{"STARLING_MAX_REQUEST_BYTES", "huge"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, fs := newFlags()
			path := ""
			switch c.yaml {
			case "":
			case "<missing>":
				path = filepath.Join(t.TempDir(), "missing.yaml")
			default:
				path = writeFile(t, c.yaml)
			}
			err := applySources(fs, path, envOf(c.env))
			if err == nil {
				t.Fatal("no error")
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if path != "" && c.yaml != "<missing>" && !strings.Contains(err.Error(), path) && c.env == nil {
				t.Errorf("error %q does not name the file %s", err, path)
			}
		})
	}
}

func TestDurationValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7d", 7 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"1d12h", 36 * time.Hour, true},
		{"250ms", 250 * time.Millisecond, true},
		{"1y", 365 * 24 * time.Hour, true},
		{"0", 0, true},
		{"bad", 0, false},
		{"7 days", 0, false},
		{"", 0, false},
		{"d", 0, false},
	} {
		var d time.Duration = 42
		v := durationValue{&d}
		err := v.Set(c.in)
		switch {
		case c.ok && (err != nil || d != c.want):
			t.Errorf("Set(%q): %v, %v; want %v", c.in, d, err, c.want)
		case !c.ok && err == nil:
			t.Errorf("Set(%q) = %v, want an error", c.in, d)
		case !c.ok && (!strings.Contains(err.Error(), "not a duration") || d != 42):
			t.Errorf("Set(%q): error %q, value %v; want a 'not a duration' error and the value untouched", c.in, err, d)
		}
		if c.ok {
			// String round-trips.
			var back time.Duration
			if err := (durationValue{&back}).Set(v.String()); err != nil || back != d {
				t.Errorf("String() of %v = %q, which sets %v (%v)", d, v.String(), back, err)
			}
		}
	}
	if (durationValue{}).String() != "" || (durationValue{}).Type() != "duration" {
		t.Error("zero durationValue: String or Type wrong")
	}
}

func TestBytesValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"16MiB", 16 << 20, true},
		{"16777216", 16 << 20, true},
		{"16 MiB", 16 << 20, true},
		{"1KiB", 1024, true},
		{"1KB", 1000, true},
		{"2GiB", 2 << 30, true},
		{"bad", 0, false},
		{"16XB", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"10EiB", 0, false}, // over the limit of 2^62
	} {
		var n int64 = 42
		v := bytesValue{&n}
		err := v.Set(c.in)
		switch {
		case c.ok && (err != nil || n != c.want):
			t.Errorf("Set(%q): %d, %v; want %d", c.in, n, err, c.want)
		case !c.ok && err == nil:
			t.Errorf("Set(%q) = %d, want an error", c.in, n)
		case !c.ok && (!strings.Contains(err.Error(), "not a size") || n != 42):
			t.Errorf("Set(%q): error %q, value %d; want a 'not a size' error and the value untouched", c.in, err, n)
		}
		if c.ok {
			var back int64
			if err := (bytesValue{&back}).Set(v.String()); err != nil || back != n {
				t.Errorf("String() of %d = %q, which sets %d (%v)", n, v.String(), back, err)
			}
		}
	}
	if (bytesValue{}).String() != "" || (bytesValue{}).Type() != "bytes" {
		t.Error("zero bytesValue: String or Type wrong")
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"data-dir": "STARLING_DATA_DIR", "otlp-grpc-port": "STARLING_OTLP_GRPC_PORT", "partitions": "STARLING_PARTITIONS",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("--help: %v", err)
	}
	help := out.String()
	for _, f := range []string{
		"--bind", "--data-dir", "--otlp-grpc-port", "--otlp-http-port", "--http-port",
		"--retention-traces", "--retention-logs", "--retention-metrics", "--partitions",
		"--log-level", "--config", "--max-request-bytes",
	} {
		if !strings.Contains(help, f+" ") {
			t.Errorf("--help does not list %s:\n%s", f, help)
		}
	}
	for _, s := range []string{"STARLING_", "4317", "4318", "3300"} {
		if !strings.Contains(help, s) {
			t.Errorf("--help does not mention %s", s)
		}
	}
}

func TestRefusesBadInvocations(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		mention string
	}{
		{"positional argument", []string{"serve"}, "serve"},
		{"unknown flag", []string{"--retention", "7d"}, "retention"},
		{"bad log level", []string{"--log-level", "loud", "--data-dir", "DIR"}, "log-level"},
		{"bad log format", []string{"--log-format", "xml", "--data-dir", "DIR"}, "log-format"},
		{"bad partitions", []string{"--partitions", "0", "--data-dir", "DIR"}, "partitions"},
		{"bad port", []string{"--http-port", "70000", "--data-dir", "DIR"}, "http-port"},
		{"bad duration", []string{"--retention-traces", "soon"}, "retention-traces"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			cmd := newRootCommand()
			cmd.SetOut(new(bytes.Buffer))
			cmd.SetErr(new(bytes.Buffer))
			cmd.SetArgs(args)
			err := cmd.Execute()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

func TestClusterFlags(t *testing.T) {
	key := "AAECAwQFBgcICQoLDA0ODw==" // 16 bytes
	for _, c := range []struct {
		name     string
		args     []string
		env      map[string]string
		yaml     string
		wantJoin []string
		wantErr  string
	}{
		{"repeated flag", []string{"--join", "10.0.0.1:7946", "--join", "dnssrv+_gossip._tcp.starling"}, nil, "",
			[]string{"10.0.0.1:7946", "dnssrv+_gossip._tcp.starling"}, ""},
		{"env list", nil, map[string]string{"STARLING_JOIN": "a:7946,b:7946"}, "", []string{"a:7946", "b:7946"}, ""},
		{"yaml list", nil, nil, "join: [a:7946, dns+seed:7946]\nbootstrap-expect: 3\n", []string{"a:7946", "dns+seed:7946"}, ""},
		{"bad gossip key", []string{"--gossip-key", "c2hvcnQ="}, nil, "", nil, "16, 24 or 32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, fs := newFlags()
			args := c.args
			if c.wantErr == "" {
				args = append(args, "--gossip-key", key, "--zone", "eu-1a", "--dead-node-timeout", "1m")
			}
			err := fs.Parse(args)
			if err == nil {
				path := ""
				if c.yaml != "" {
					path = writeFile(t, c.yaml)
				}
				err = applySources(fs, path, envOf(c.env))
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(o.cfg.Join, " ") != strings.Join(c.wantJoin, " ") {
				t.Errorf("join %q, want %q", o.cfg.Join, c.wantJoin)
			}
			if len(o.cfg.GossipKey) != 16 || o.cfg.Zone != "eu-1a" || o.cfg.DeadNodeTimeout != time.Minute {
				t.Errorf("gossip key %d bytes, zone %q, dead-node-timeout %s", len(o.cfg.GossipKey), o.cfg.Zone, o.cfg.DeadNodeTimeout)
			}
			if c.yaml != "" && o.cfg.BootstrapExpect != 3 {
				t.Errorf("bootstrap-expect %d", o.cfg.BootstrapExpect)
			}
		})
	}
}
