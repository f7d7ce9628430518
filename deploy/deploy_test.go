package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// need returns the path of a tool the test needs. Without it the test is
// skipped, or fails when KIOSK_E2E=1 (CI installs every tool).
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("KIOSK_E2E") == "1" {
			t.Fatalf("%s is missing and KIOSK_E2E=1 (apt-get install the package that has it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// run runs a command with extra environment and returns its combined output.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cleanEnv is the test's environment without the variables that would
// change what the scripts do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DESTDIR" || strings.HasPrefix(k, "KIOSK") || k == "DISPLAY" || k == "WAYLAND_DISPLAY" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// file is a regular file of an installed tree.
type file struct {
	Mode fs.FileMode
	Hash string
}

// tree lists the regular files below root (relative, with a leading /).
func tree(t *testing.T, root string) map[string]file {
	t.Helper()
	files := make(map[string]file)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%v)", p, info.Mode())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		files["/"+filepath.ToSlash(rel)] = file{info.Mode().Perm(), hex.EncodeToString(sum[:])}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return files
}

func paths(m map[string]file) []string {
	var ps []string
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// installed is what install.sh and the .deb put on the machine, with modes.
var installed = map[string]fs.FileMode{
	"/usr/bin/kioskd":                              0o755,
	"/usr/bin/kioskd-browser":                      0o755,
	"/usr/lib/systemd/system/kioskd.service":       0o644,
	"/usr/lib/systemd/user/kioskd-browser.service": 0o644,
	"/usr/lib/sysusers.d/kioskd.conf":              0o644,
	"/usr/share/kioskd/kioskd-browser.desktop":     0o644,
	"/usr/share/doc/kioskd/README.md":              0o644,
	"/etc/default/kioskd":                          0o644,
	"/etc/udev/rules.d/70-kiosk-camera.rules":      0o644,
}

// sources maps installed paths to the files of this folder they come from.
var sources = map[string]string{
	"/usr/bin/kioskd-browser":                      "kioskd-browser",
	"/usr/lib/systemd/system/kioskd.service":       "kioskd.service",
	"/usr/lib/systemd/user/kioskd-browser.service": "kioskd-browser.service",
	"/usr/lib/sysusers.d/kioskd.conf":              "kioskd.sysusers",
	"/usr/share/kioskd/kioskd-browser.desktop":     "kioskd-browser.desktop",
	"/usr/share/doc/kioskd/README.md":              "README.md",
	"/etc/default/kioskd":                          "kioskd.defaults",
	"/etc/udev/rules.d/70-kiosk-camera.rules":      "70-kiosk-camera.rules",
}

func hashFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fakeBinary writes a stand-in for the kioskd binary (install.sh copies it,
// nothing runs it).
func fakeBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kioskd")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho fake kioskd\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func install(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, nil, "./install.sh", args...)
	if err != nil {
		t.Fatalf("install.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestInstallIsIdempotent(t *testing.T) {
	need(t, "bash")
	root := t.TempDir()
	bin := fakeBinary(t)

	out := install(t, "--destdir", root, "--bin", bin)
	first := tree(t, root)
	if got, want := paths(first), slices.Sorted(maps.Keys(installed)); !slices.Equal(got, want) {
		t.Fatalf("install.sh installed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for p, f := range first {
		if f.Mode != installed[p] {
			t.Errorf("%s has mode %v; want %v", p, f.Mode, installed[p])
		}
		src := sources[p]
		if p == "/usr/bin/kioskd" {
			src = bin
		}
		if h := hashFile(t, src); f.Hash != h {
			t.Errorf("%s differs from its source %s", p, src)
		}
	}
	// In a DESTDIR nothing on the machine changes: the commands are printed.
	for _, want := range []string{
		"would run: systemd-sysusers /usr/lib/sysusers.d/kioskd.conf",
		"would run: systemctl enable kioskd.service",
		"would run: udevadm control --reload-rules",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install.sh into a DESTDIR did not print %q:\n%s", want, out)
		}
	}

	out = install(t, "--destdir", root, "--bin", bin)
	second := tree(t, root)
	if !maps.Equal(first, second) {
		t.Errorf("a second install.sh changed the tree:\nfirst  %v\nsecond %v", first, second)
	}
	if strings.Contains(out, "installed ") {
		t.Errorf("a second install.sh rewrote files:\n%s", out)
	}

	// The operator's settings survive a reinstall; the shipped file goes beside.
	defaults := filepath.Join(root, "etc/default/kioskd")
	edited := []byte("KIOSK_CAMERA=/dev/kiosk-camera\n")
	if err := os.WriteFile(defaults, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	install(t, "--destdir", root, "--bin", bin)
	if b, _ := os.ReadFile(defaults); !bytes.Equal(b, edited) {
		t.Errorf("install.sh overwrote the edited /etc/default/kioskd with:\n%s", b)
	}
	if h := hashFile(t, defaults+".dist"); h != hashFile(t, "kioskd.defaults") {
		t.Error("/etc/default/kioskd.dist is not the shipped kioskd.defaults")
	}

	// The state folder and the configuration stay after --uninstall.
	state := filepath.Join(root, "var/lib/kioskd/queue.db")
	if err := os.MkdirAll(filepath.Dir(state), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte("records"), 0o640); err != nil {
		t.Fatal(err)
	}
	out = install(t, "--destdir", root, "--uninstall")
	if got, want := paths(tree(t, root)), []string{
		"/etc/default/kioskd", "/etc/default/kioskd.dist", "/etc/udev/rules.d/70-kiosk-camera.rules",
		"/var/lib/kioskd/queue.db",
	}; !slices.Equal(got, want) {
		t.Errorf("after --uninstall the tree holds %q; want %q", got, want)
	}
	if !strings.Contains(out, "would run: systemctl disable --now kioskd.service") {
		t.Errorf("--uninstall did not print that it would stop the service:\n%s", out)
	}
	for _, dir := range []string{"usr/share/kioskd", "usr/share/doc/kioskd"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			t.Errorf("--uninstall left the folder /%s", dir)
		}
	}
	install(t, "--destdir", root, "--uninstall", "--purge")
	if got, want := paths(tree(t, root)), []string{"/var/lib/kioskd/queue.db"}; !slices.Equal(got, want) {
		t.Errorf("after --uninstall --purge the tree holds %q; want only %q", got, want)
	}
}

func TestInstallCameraID(t *testing.T) {
	need(t, "bash")
	root := t.TempDir()
	bin := fakeBinary(t)
	rules := filepath.Join(root, "etc/udev/rules.d/70-kiosk-camera.rules")

	install(t, "--destdir", root, "--bin", bin, "--camera-id", "046D:0825")
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	if want := `ATTRS{idVendor}=="046d", ATTRS{idProduct}=="0825", SYMLINK+="kiosk-camera"`; !strings.Contains(string(b), want) {
		t.Errorf("the udev rule installed with --camera-id 046D:0825 lacks %s:\n%s", want, b)
	}
	// Another camera later: the rule is rewritten and the old one kept.
	install(t, "--destdir", root, "--bin", bin, "--camera-id", "32e4:9230")
	b, _ = os.ReadFile(rules)
	if !strings.Contains(string(b), `ATTRS{idVendor}=="32e4", ATTRS{idProduct}=="9230"`) {
		t.Errorf("--camera-id 32e4:9230 did not rewrite the rule:\n%s", b)
	}
	if old, _ := os.ReadFile(rules + ".old"); !strings.Contains(string(old), `"046d"`) {
		t.Error("the previous rule was not kept as .old")
	}
	if _, err := os.Stat(rules + ".dist"); err == nil {
		t.Error("--camera-id put a .dist beside the rule it wrote itself")
	}

	for _, bad := range []string{"046d", "046d:08255", "xyzw:0825", "046d-0825"} {
		out, err := run(t, nil, "./install.sh", "--destdir", t.TempDir(), "--bin", bin, "--camera-id", bad)
		if err == nil || !strings.Contains(out, "VID:PID") {
			t.Errorf("install.sh --camera-id %s = %v, %q; want a failure that explains VID:PID", bad, err, out)
		}
	}
}

func TestInstallUsage(t *testing.T) {
	need(t, "bash")
	for _, args := range [][]string{
		{"--frobnicate"},
		{"--purge"},
		{"--destdir", t.TempDir(), "--bin", "/no/such/kioskd"},
	} {
		if out, err := run(t, nil, "./install.sh", args...); err == nil {
			t.Errorf("install.sh %v succeeded; want a failure\n%s", args, out)
		}
	}
}

// unit is a parsed systemd unit file: section, key, values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := make(unit)
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = make(map[string][]string)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, n, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func TestServiceUnit(t *testing.T) {
	u := parseUnit(t, "kioskd.service")
	for _, tc := range []struct{ section, key, want string }{
		{"Service", "Type", "notify"},
		{"Service", "ExecStart", "/usr/bin/kioskd run"},
		{"Service", "EnvironmentFile", "-/etc/default/kioskd"},
		{"Service", "User", "kioskd"},
		{"Service", "SupplementaryGroups", "video"},
		{"Service", "StateDirectory", "kioskd"},
		{"Service", "Restart", "on-failure"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "DevicePolicy", "closed"},
		{"Service", "DeviceAllow", "char-video4linux rw"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if got := u[tc.section][tc.key]; !slices.Contains(got, tc.want) {
			t.Errorf("kioskd.service [%s] %s = %q; want %q", tc.section, tc.key, got, tc.want)
		}
	}
	// The watchdog, the start limit and the family list hold values, not
	// fixed strings: check they are there and sensible.
	for _, tc := range []struct{ section, key string }{
		{"Service", "WatchdogSec"}, {"Unit", "StartLimitIntervalSec"}, {"Unit", "StartLimitBurst"},
	} {
		if len(u[tc.section][tc.key]) != 1 || u[tc.section][tc.key][0] == "0" {
			t.Errorf("kioskd.service [%s] %s = %q; want one non-zero value", tc.section, tc.key, u[tc.section][tc.key])
		}
	}
	if fam := strings.Join(u["Service"]["RestrictAddressFamilies"], " "); !strings.Contains(fam, "AF_UNIX") {
		t.Errorf("RestrictAddressFamilies=%s lacks AF_UNIX, which the notify socket needs", fam)
	}

	b := parseUnit(t, "kioskd-browser.service")
	for _, tc := range []struct{ section, key, want string }{
		{"Service", "ExecStart", "/usr/bin/kioskd-browser"},
		{"Service", "Restart", "always"},
		{"Unit", "PartOf", "graphical-session.target"},
		{"Install", "WantedBy", "graphical-session.target"},
	} {
		if got := b[tc.section][tc.key]; !slices.Contains(got, tc.want) {
			t.Errorf("kioskd-browser.service [%s] %s = %q; want %q", tc.section, tc.key, got, tc.want)
		}
	}
}

// TestUnitsVerify runs systemd-analyze verify on both units, with ExecStart
// pointed at an installed tree (verify checks that the program exists).
// verify exits 0 on some errors ("ignoring"), so any line it prints about
// the unit fails the test.
func TestUnitsVerify(t *testing.T) {
	sa := need(t, "systemd-analyze")
	root := t.TempDir()
	install(t, "--destdir", root, "--bin", fakeBinary(t))
	runtimeDir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		unit, installedAt string
		user              bool
	}{
		{"kioskd.service", "/usr/lib/systemd/system/kioskd.service", false},
		{"kioskd-browser.service", "/usr/lib/systemd/user/kioskd-browser.service", true},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, tc.installedAt))
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(string(b), "ExecStart=/usr/bin/", "ExecStart="+root+"/usr/bin/")
			dir := t.TempDir()
			p := filepath.Join(dir, tc.unit)
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", "--man=no", p}
			if tc.user {
				args = append([]string{"--user"}, args...)
			}
			out, err := run(t, []string{"XDG_RUNTIME_DIR=" + runtimeDir}, sa, args...)
			var ours []string
			for line := range strings.Lines(out) {
				if strings.Contains(line, tc.unit) || strings.Contains(line, dir) {
					ours = append(ours, line)
				}
			}
			if err != nil || len(ours) > 0 {
				t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestServiceExposure keeps the sandbox tight: systemd-analyze security
// scores what the service could do if taken over (0 best, 10 worst).
func TestServiceExposure(t *testing.T) {
	sa := need(t, "systemd-analyze")
	const limit = 2.0 // measured 1.7 with systemd 252
	out, err := run(t, nil, sa, "security", "--offline=true", "--no-pager", "kioskd.service")
	m := regexp.MustCompile(`Overall exposure level for kioskd\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security --offline=true kioskd.service: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("exposure %.1f", score)
	if score > limit {
		t.Errorf("kioskd.service exposure is %.1f; want at most %.1f:\n%s", score, limit, out)
	}
}

// TestDefaultsMatchKioskd checks that kioskd.defaults lists every KIOSK_*
// setting of `kioskd run` with its real default, and nothing else, by asking
// the binary built from this checkout.
func TestDefaultsMatchKioskd(t *testing.T) {
	goTool := need(t, "go")
	bin := filepath.Join(t.TempDir(), "kioskd")
	if out, err := run(t, nil, goTool, "build", "-o", bin, "../cmd/kioskd"); err != nil {
		t.Fatalf("go build ../cmd/kioskd: %v\n%s", err, out)
	}
	help, err := run(t, nil, bin, "run", "-h")
	if err != nil {
		t.Fatalf("kioskd run -h: %v\n%s", err, help)
	}
	want := flagDefaults(t, help)
	if len(want) < 5 {
		t.Fatalf("found %d settings in `kioskd run -h`; its format changed?\n%s", len(want), help)
	}
	got := fileSettings(t, "kioskd.defaults")
	for name, def := range want {
		v, ok := got[name]
		switch {
		case !ok:
			t.Errorf("kioskd.defaults lacks %s (default %q): add it, commented out, with what it does", name, def)
		case !strings.EqualFold(v, def):
			t.Errorf("kioskd.defaults says #%s=%s; kioskd's default is %q", name, v, def)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("kioskd.defaults lists %s, which `kioskd run` does not have", name)
		}
	}
}

// flagDefaults reads the usage text of newFlagSet: for each flag a line
// ending in (default "..."), when it has one, then "environment: KIOSK_...".
func flagDefaults(t *testing.T, help string) map[string]string {
	t.Helper()
	defRE := regexp.MustCompile(`\(default ("(?:[^"\\]|\\.)*")\)\s*$`)
	defaults := make(map[string]string)
	prev := ""
	for line := range strings.Lines(help) {
		line = strings.TrimRight(line, "\n")
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "environment: "); ok {
			def := ""
			if m := defRE.FindStringSubmatch(prev); m != nil {
				var err error
				if def, err = strconv.Unquote(m[1]); err != nil {
					t.Fatalf("default in %q: %v", prev, err)
				}
			}
			defaults[name] = def
		}
		prev = line
	}
	return defaults
}

// fileSettings reads the KIOSK_* lines of an environment file, commented or
// not, and checks that each has a comment above it.
func fileSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^#?(KIOSK_[A-Z0-9_]+)=(.*)$`)
	settings := make(map[string]string)
	prev := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		if m := re.FindStringSubmatch(line); m != nil {
			if _, dup := settings[m[1]]; dup {
				t.Errorf("%s: %s is listed twice", path, m[1])
			}
			if !strings.HasPrefix(prev, "# ") {
				t.Errorf("%s: %s has no comment above it saying what it does", path, m[1])
			}
			settings[m[1]] = m[2]
		}
		prev = line
	}
	return settings
}

// TestUdevRule checks the rule's syntax (KEY{attr}OP"value", comma
// separated) and that the booth camera gets its link and group, both in the
// vendor/product rule and in the commented generic fallback.
func TestUdevRule(t *testing.T) {
	b, err := os.ReadFile("70-kiosk-camera.rules")
	if err != nil {
		t.Fatal(err)
	}
	pair := regexp.MustCompile(`^([A-Z]+)(\{[A-Za-z0-9_]+\})?(==|!=|\+=|-=|:=|=)"([^"]*)"$`)
	var rules, fallback [][]string // each rule as its KEY OP "value" items
	labels, gotos := map[string]bool{}, map[string]bool{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		target := &rules
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			// A commented-out rule: a comment whose first word is KEY==.
			if !regexp.MustCompile(`^[A-Z]+(\{[A-Za-z0-9_]+\})?==`).MatchString(rest) {
				continue
			}
			line, target = rest, &fallback
		}
		if line == "" {
			continue
		}
		var items []string
		for item := range strings.SplitSeq(line, ",") {
			item = strings.TrimSpace(item)
			m := pair.FindStringSubmatch(item)
			if m == nil {
				t.Fatalf("70-kiosk-camera.rules:%d: %q is not KEY==\"value\"", n+1, item)
			}
			switch m[1] {
			case "LABEL":
				labels[m[4]] = true
			case "GOTO":
				gotos[m[4]] = true
			}
			items = append(items, m[1]+m[2]+m[3]+`"`+m[4]+`"`)
		}
		*target = append(*target, items)
	}
	for g := range gotos {
		if !labels[g] {
			t.Errorf("GOTO=%q has no LABEL", g)
		}
	}
	camera := func(rs [][]string, must ...string) bool {
		for _, r := range rs {
			if slices.Contains(r, `SYMLINK+="kiosk-camera"`) && slices.Contains(r, `GROUP="video"`) {
				ok := true
				for _, m := range must {
					ok = ok && slices.Contains(r, m)
				}
				if ok {
					return true
				}
			}
		}
		return false
	}
	if !camera(rules, `ATTRS{idVendor}=="0000"`, `ATTRS{idProduct}=="0000"`) {
		t.Errorf("no active rule matches ATTRS{idVendor}/ATTRS{idProduct} (placeholders 0000) and sets SYMLINK+=\"kiosk-camera\" and GROUP=\"video\": %q", rules)
	}
	if !camera(fallback, `DRIVERS=="uvcvideo"`) {
		t.Errorf("no commented generic UVC fallback rule: %q", fallback)
	}
	if !slices.ContainsFunc(rules, func(r []string) bool { return slices.Contains(r, `ATTR{index}!="0"`) }) {
		t.Error("the rule does not skip the metadata nodes (ATTR{index}!=\"0\")")
	}
}

// TestSysusers creates the service user in a scratch root with
// systemd-sysusers, as postinst and install.sh do on the machine.
func TestSysusers(t *testing.T) {
	su := need(t, "systemd-sysusers")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nvideo:x:44:\n"), 0o644)
	conf, err := filepath.Abs("kioskd.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for i := range 2 {
		if out, err := run(t, nil, su, "--root="+root, conf); err != nil {
			t.Fatalf("systemd-sysusers: %v\n%s", err, out)
		}
		passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
		group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
		if !regexp.MustCompile(`(?m)^kioskd:x:\d+:\d+:[^:]*:/var/lib/kioskd:/usr/sbin/nologin$`).Match(passwd) {
			t.Errorf("run %d: /etc/passwd has no kioskd system user with home /var/lib/kioskd and no shell:\n%s", i+1, passwd)
		}
		if !regexp.MustCompile(`(?m)^video:x:44:kioskd$`).Match(group) {
			t.Errorf("run %d: kioskd is not in the existing video group:\n%s", i+1, group)
		}
		if i == 0 {
			first = string(passwd) + string(group)
		} else if string(passwd)+string(group) != first {
			t.Errorf("a second systemd-sysusers changed the users:\n%s\nthen\n%s%s", first, passwd, group)
		}
	}
}

// TestPostinst runs the .deb's postinst with every command that would touch
// the machine replaced by a stub that logs its arguments.
func TestPostinst(t *testing.T) {
	need(t, "sh")
	stubs := t.TempDir()
	logPath := filepath.Join(stubs, "calls")
	for _, name := range []string{"systemd-sysusers", "systemctl", "udevadm", "getent", "useradd", "usermod"} {
		script := fmt.Sprintf("#!/bin/sh\necho %s \"$@\" >> %q\n", name, logPath)
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pathEnv := "PATH=" + stubs + string(os.PathListSeparator) + os.Getenv("PATH")
	for _, tc := range []struct {
		name      string
		args      []string
		want, not []string
	}{
		{"first install", []string{"configure", ""},
			[]string{"systemd-sysusers /usr/lib/sysusers.d/kioskd.conf", "systemctl enable kioskd.service"}, nil},
		{"upgrade", []string{"configure", "0.1.0"},
			[]string{"systemd-sysusers /usr/lib/sysusers.d/kioskd.conf"}, []string{"systemctl enable"}},
		{"other action", []string{"triggered"}, nil, []string{"systemd-sysusers", "systemctl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(logPath)
			if out, err := run(t, []string{pathEnv}, "sh", append([]string{"deb/postinst"}, tc.args...)...); err != nil {
				t.Fatalf("postinst %q: %v\n%s", tc.args, err, out)
			}
			b, _ := os.ReadFile(logPath)
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("postinst %q did not run %q; it ran:\n%s", tc.args, w, b)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(b), n) {
					t.Errorf("postinst %q ran %q; it must not:\n%s", tc.args, n, b)
				}
			}
		})
	}
}

func TestShellcheck(t *testing.T) {
	sc := need(t, "shellcheck")
	for _, tc := range []struct{ shell, file string }{
		{"bash", "install.sh"}, {"bash", "build-deb.sh"}, {"bash", "kioskd-browser"},
		{"sh", "deb/postinst"}, {"sh", "deb/prerm"}, {"sh", "deb/postrm"},
	} {
		if out, err := run(t, nil, sc, "--shell="+tc.shell, tc.file); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", tc.file, err, out)
		}
		if info, err := os.Stat(tc.file); err != nil || info.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", tc.file, err)
		}
	}
}

func TestDesktopEntry(t *testing.T) {
	v := need(t, "desktop-file-validate")
	if out, err := run(t, nil, v, "kioskd-browser.desktop"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("desktop-file-validate kioskd-browser.desktop: %v\n%s", err, out)
	}
}

// fakeStation serves /healthz: 503 until ready is set, then 200.
type fakeStation struct {
	ready, asked atomic.Bool
	badHost      atomic.Value // string: a Host header that was not the page's
	srv          *httptest.Server
}

func newFakeStation(t *testing.T) *fakeStation {
	s := &fakeStation{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		if r.Host != s.srv.Listener.Addr().String() {
			s.badHost.Store(r.Host)
		}
		s.asked.Store(true)
		if !s.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// fakeBrowser writes a browser stand-in that logs each start's arguments to
// dir/starts, dies at once on its first start, and on later starts runs
// until SIGTERM, which it logs to dir/events.
func fakeBrowser(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "fake-chromium")
	// Later starts log their start only once the TERM trap is set.
	script := `#!/bin/sh
if [ ! -e "` + dir + `/died" ]; then
	: > "` + dir + `/died"
	printf '%s\n' "$*" >> "` + dir + `/starts"
	exit 3
fi
sleep 60 &
trap 'kill $!; echo terminated >> "` + dir + `/events"; exit 0' TERM
printf '%s\n' "$*" >> "` + dir + `/starts"
wait
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// lines is the non-empty lines of the file at p (none if it is missing).
func lines(p string) []string {
	b, _ := os.ReadFile(p)
	var ls []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer that the launcher's output copier and the
// test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// launcher is a running kioskd-browser.
type launcher struct {
	cmd    *exec.Cmd
	stderr lockedBuffer
	err    error         // Wait's result, set before exited is closed
	exited chan struct{} // closed when the process has exited
}

func startLauncher(t *testing.T, env []string) *launcher {
	t.Helper()
	l := &launcher{cmd: exec.Command("./kioskd-browser"), exited: make(chan struct{})}
	l.cmd.Env = append(cleanEnv(), env...)
	l.cmd.Stderr = &l.stderr
	// Do not wait for stray children holding stderr open.
	l.cmd.WaitDelay = 2 * time.Second
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // exits when the launcher does
		l.err = l.cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() {
		l.cmd.Process.Kill()
		<-l.exited
	})
	return l
}

// stop sends SIGTERM and returns the exit error, failing the test if the
// launcher does not exit within 10 s.
func (l *launcher) stop(t *testing.T) error {
	t.Helper()
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.exited:
		return l.err
	case <-time.After(10 * time.Second):
		t.Fatalf("the launcher did not exit within 10 s of SIGTERM\n%s", l.stderr.String())
		return nil
	}
}

func TestBrowserLauncher(t *testing.T) {
	need(t, "bash")
	need(t, "timeout")
	station := newFakeStation(t)
	dir := t.TempDir()
	home := t.TempDir()
	prefs := filepath.Join(home, "profile/Default/Preferences")
	os.MkdirAll(filepath.Dir(prefs), 0o700)
	os.WriteFile(prefs, []byte(`{"profile":{"exit_type":"Crashed","exited_cleanly":false}}`), 0o600)

	url := station.srv.URL + "/"
	l := startLauncher(t, []string{
		"HOME=" + home,
		"KIOSKD_BROWSER=" + fakeBrowser(t, dir),
		"KIOSKD_BROWSER_URL=" + url,
		"KIOSKD_BROWSER_PROFILE=" + filepath.Join(home, "profile"),
	})
	starts := filepath.Join(dir, "starts")

	// Not before kioskd is healthy.
	waitFor(t, "the launcher to ask /healthz", 10*time.Second, station.asked.Load)
	time.Sleep(1500 * time.Millisecond)
	if got := lines(starts); len(got) != 0 {
		t.Fatalf("the browser started while /healthz answered 503: %q", got)
	}
	station.ready.Store(true)

	// Started, and started again after it died.
	waitFor(t, "two browser starts", 15*time.Second, func() bool { return len(lines(starts)) >= 2 })
	b, _ := os.ReadFile(starts)
	first := strings.Split(string(b), "\n")[0]
	for _, flag := range []string{
		"--kiosk", "--no-first-run", "--disable-pinch", "--overscroll-history-navigation=0",
		"--noerrdialogs", "--password-store=basic", "--user-data-dir=" + filepath.Join(home, "profile"),
	} {
		if !slices.Contains(strings.Fields(first), flag) {
			t.Errorf("the browser was started without %s: %s", flag, first)
		}
	}
	if !regexp.MustCompile(`--disable-features=\S*\bTranslate\b`).MatchString(first) {
		t.Errorf("the translate bar is not disabled: %s", first)
	}
	if !strings.HasSuffix(first, " "+url) {
		t.Errorf("the browser was not started on %s: %s", url, first)
	}
	if p, _ := os.ReadFile(prefs); !strings.Contains(string(p), `"exit_type":"Normal"`) || !strings.Contains(string(p), `"exited_cleanly":true`) {
		t.Errorf("the crash flags were not cleared, Chromium would offer to restore pages: %s", p)
	}
	if h := station.badHost.Load(); h != nil {
		t.Errorf("the health check sent Host %q; want %s", h, station.srv.Listener.Addr())
	}

	// SIGTERM stops the launcher and the browser it runs.
	if err := l.stop(t); err != nil {
		t.Errorf("the launcher exited with %v after SIGTERM; want 0\n%s", err, l.stderr.String())
	}
	waitFor(t, "the browser to be terminated", 5*time.Second, func() bool {
		return slices.Contains(lines(filepath.Join(dir, "events")), "terminated")
	})
	if log := l.stderr.String(); !strings.Contains(log, "browser exited with status 3") {
		t.Errorf("the launcher did not log the browser's death:\n%s", log)
	}
}

// TestBrowserLauncherURL checks the page the launcher opens when it is not
// told one: kioskd's KIOSK_LISTEN, on loopback when kioskd listens on all
// interfaces.
func TestBrowserLauncherURL(t *testing.T) {
	need(t, "bash")
	need(t, "timeout")
	station := newFakeStation(t)
	station.ready.Store(true)
	_, port, _ := net.SplitHostPort(station.srv.Listener.Addr().String())
	for _, listen := range []string{"127.0.0.1:" + port, "0.0.0.0:" + port, ":" + port} {
		t.Run(listen, func(t *testing.T) {
			dir := t.TempDir()
			l := startLauncher(t, []string{
				"HOME=" + t.TempDir(),
				"KIOSKD_BROWSER=" + fakeBrowser(t, dir),
				"KIOSK_LISTEN=" + listen,
			})
			starts := filepath.Join(dir, "starts")
			waitFor(t, "the browser to start", 10*time.Second, func() bool { return len(lines(starts)) >= 1 })
			b, _ := os.ReadFile(starts)
			if want := " http://127.0.0.1:" + port + "/\n"; !strings.HasSuffix(string(b), want) {
				t.Errorf("KIOSK_LISTEN=%s: the browser opened %q; want the page%s", listen, b, want)
			}
			if err := l.stop(t); err != nil {
				t.Errorf("the launcher exited with %v after SIGTERM; want 0\n%s", err, l.stderr.String())
			}
		})
	}
}

func TestBrowserLauncherWithoutBrowser(t *testing.T) {
	need(t, "bash")
	out, err := run(t, []string{"KIOSKD_BROWSER=/no/such/chromium"}, "./kioskd-browser")
	if err == nil || !strings.Contains(out, "apt-get install chromium") {
		t.Errorf("kioskd-browser with no browser = %v, %q; want a failure that says how to install one", err, out)
	}
}

// TestDeb builds the .deb with build-deb.sh and checks its contents against
// what install.sh installs. It takes 5 s with a warm Go cache; with a cold
// one (nfpm and kioskd compiled from scratch) 2 minutes of CPU, 3m47s of wall
// time measured on a busy 2-core machine. Skipped by -short.
func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kioskd and nfpm; skipped with -short")
	}
	need(t, "go")
	dpkgDeb := need(t, "dpkg-deb")
	out := t.TempDir()
	build := exec.Command("./build-deb.sh", out)
	build.Env = cleanEnv()
	start := time.Now()
	stdout, err := build.Output()
	t.Logf("build-deb.sh took %v", time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("build-deb.sh: %v\n%s", err, stderr)
	}
	deb := strings.TrimSpace(string(stdout))
	if filepath.Dir(deb) != out || !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("build-deb.sh printed %q; want the .deb's path in %s", deb, out)
	}

	// dpkg-deb -c: the files and their modes.
	listing, err := exec.Command(dpkgDeb, "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	got := make(map[string]fs.FileMode)
	for line := range strings.Lines(string(listing)) {
		f := strings.Fields(line)
		if len(f) < 6 || f[0][0] != '-' {
			continue // folders
		}
		if owner := f[1]; owner != "root/root" {
			t.Errorf("%s is owned by %s; want root/root", f[5], owner)
		}
		got[strings.TrimPrefix(f[5], ".")] = modeOf(t, f[0])
	}
	if !maps.Equal(got, installed) {
		t.Errorf("the .deb holds %v;\nwant (as install.sh) %v", got, installed)
	}

	// The control fields and the configuration files.
	for field, want := range map[string]string{"Package": "kioskd", "Architecture": "", "Depends": "systemd"} {
		v, err := exec.Command(dpkgDeb, "-f", deb, field).Output()
		if err != nil || strings.TrimSpace(string(v)) == "" || (want != "" && strings.TrimSpace(string(v)) != want) {
			t.Errorf("control field %s = %q (%v); want %q", field, v, err, want)
		}
	}
	ctl := filepath.Join(t.TempDir(), "control")
	if o, err := exec.Command(dpkgDeb, "-e", deb, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, o)
	}
	conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if got, want := strings.Fields(string(conffiles)), []string{"/etc/default/kioskd", "/etc/udev/rules.d/70-kiosk-camera.rules"}; !slices.Equal(got, want) {
		t.Errorf("conffiles = %q; want %q", got, want)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if h, w := hashFile(t, filepath.Join(ctl, s)), hashFile(t, filepath.Join("deb", s)); h != w {
			t.Errorf("the .deb's %s is not deb/%s", s, s)
		}
	}

	// The files are this folder's, and the binary is a working kioskd.
	root := t.TempDir()
	if o, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, o)
	}
	for dst, src := range sources {
		if hashFile(t, filepath.Join(root, dst)) != hashFile(t, src) {
			t.Errorf("the .deb's %s is not %s", dst, src)
		}
	}
	help, err := run(t, nil, filepath.Join(root, "usr/bin/kioskd"), "help")
	if err != nil || !strings.Contains(help, "devices") {
		t.Errorf("the packaged kioskd help = %v\n%s", err, help)
	}
}

// modeOf parses the permission bits of an ls-style mode such as -rwxr-xr-x.
func modeOf(t *testing.T, s string) fs.FileMode {
	t.Helper()
	if len(s) != 10 {
		t.Fatalf("mode %q", s)
	}
	var m fs.FileMode
	for i, c := range s[1:] {
		if c != '-' {
			m |= 1 << (8 - i)
		}
	}
	return m
}
