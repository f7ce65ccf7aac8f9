package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/prometheus/common/model"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Configuration comes from, highest precedence first: a command-line flag,
// the environment variable STARLING_<FLAG> (upper case, '-' as '_'), the
// key <flag> of the YAML file named by --config, the flag's default.

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "STARLING_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applySources sets every flag not given on the command line from the
// environment, then from the YAML file at configPath (if any). Unknown
// keys in the file are an error, so a typo does not go unnoticed.
// lookupEnv is os.LookupEnv (tests pass their own).
func applySources(fs *pflag.FlagSet, configPath string, lookupEnv func(string) (string, bool)) error {
	var file map[string]any
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return fmt.Errorf("config %s: %w", configPath, err)
		}
		var unknown []string
		for k := range file {
			if f := fs.Lookup(k); f == nil || k == "config" {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("config %s: unknown key %q (keys are flag names, see --help)", configPath, unknown[0])
		}
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		if v, ok := lookupEnv(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if serr := setFromYAML(fs, f, v); serr != nil {
				err = fmt.Errorf("config %s: %s: %w", configPath, f.Name, serr)
			}
		}
	})
	return err
}

func setFromYAML(fs *pflag.FlagSet, f *pflag.Flag, v any) error {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := fs.Set(f.Name, fmt.Sprint(e)); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return nil
	default:
		return fs.Set(f.Name, fmt.Sprint(x))
	}
}

// durationValue is a flag taking Go durations (90m, 1h30m) and Prometheus
// ones (7d, 2w).
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return model.Duration(*v.d).String()
}

func (v durationValue) Set(s string) error {
	if d, err := time.ParseDuration(s); err == nil {
		*v.d = d
		return nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 90s, 12h or 7d", s)
	}
	*v.d = time.Duration(d)
	return nil
}

func (v durationValue) Type() string { return "duration" }

// bytesValue is a flag taking a size in bytes, with optional unit (16MiB).
type bytesValue struct{ n *int64 }

func (v bytesValue) String() string {
	if v.n == nil {
		return ""
	}
	return humanize.IBytes(uint64(*v.n))
}

func (v bytesValue) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil || n > 1<<62 {
		return fmt.Errorf("%q is not a size such as 16777216 or 16MiB", s)
	}
	*v.n = int64(n)
	return nil
}

func (v bytesValue) Type() string { return "bytes" }

// keyValue is a flag taking a base64 key.
type keyValue struct{ p *[]byte }

func (k keyValue) String() string {
	if k.p == nil || len(*k.p) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(*k.p)
}

func (k keyValue) Set(s string) error {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not base64: %w", err)
	}
	switch len(b) {
	case 16, 24, 32:
	default:
		return fmt.Errorf("%d bytes, want 16, 24 or 32", len(b))
	}
	*k.p = b
	return nil
}

func (keyValue) Type() string { return "base64" }
