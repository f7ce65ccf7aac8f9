package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DebianBinary returns the path of usr/bin/<bin> of the Debian package pkg
// and the package's version, extracting the package into cache/pkg the
// first time (apt-get download + dpkg-deb -x; apt-get update once if the
// download fails for lack of package lists). Later runs reuse the cache.
func DebianBinary(cache, pkg, bin string) (path, version string, err error) {
	dir := filepath.Join(cache, pkg)
	path = filepath.Join(dir, "usr", "bin", bin)
	if v, err := os.ReadFile(filepath.Join(dir, "VERSION")); err == nil {
		if _, err := os.Stat(path); err == nil {
			return path, strings.TrimSpace(string(v)), nil
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(cache, pkg+".download-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	Logf("fetching Debian package %s into %s (once; later runs reuse it)", pkg, dir)
	download := func() error {
		cmd := exec.Command("apt-get", "download", pkg)
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, out)
		}
		return nil
	}
	if err := download(); err != nil {
		Logf("%v\nrunning apt-get update and trying again", err)
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("apt-get update: %w\n%s", err, out)
		}
		if err := download(); err != nil {
			return "", "", err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return "", "", fmt.Errorf("apt-get download %s: %d .deb files", pkg, len(debs))
	}
	out, err := exec.Command("dpkg-deb", "-f", debs[0], "Version").Output()
	if err != nil {
		return "", "", fmt.Errorf("dpkg-deb -f %s: %w", debs[0], err)
	}
	version = strings.TrimSpace(string(out))
	x := filepath.Join(tmp, "x")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], x).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("dpkg-deb -x %s: %w\n%s", debs[0], err, out)
	}
	if _, err := os.Stat(filepath.Join(x, "usr", "bin", bin)); err != nil {
		return "", "", fmt.Errorf("package %s has no usr/bin/%s", pkg, bin)
	}
	if err := os.WriteFile(filepath.Join(x, "VERSION"), []byte(version+"\n"), 0o644); err != nil {
		return "", "", err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(x, dir); err != nil {
		return "", "", err
	}
	return path, version, nil
}
