#!/usr/bin/env bash
# install.sh: installs kioskd on a booth PC from a checkout of the repository
# (the same files, in the same places, as the .deb that build-deb.sh makes).
#
#   sudo deploy/install.sh [--bin PATH] [--camera-id VID:PID]
#   sudo deploy/install.sh --uninstall [--purge]
#   deploy/install.sh --destdir DIR ...     install into DIR (packaging, tests)
#
# Running it again is safe: files already up to date are left alone, and the
# configuration files (/etc/default/kioskd, the udev rule) are never
# overwritten once they exist (a changed shipped version is put beside them as
# FILE.dist). --uninstall removes the program files and keeps the
# configuration; --purge removes the configuration too. The state folder
# /var/lib/kioskd (the queue of records not yet synced) and the kioskd user
# are always kept.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: install.sh [--destdir DIR] [--bin PATH] [--camera-id VID:PID]
       install.sh [--destdir DIR] --uninstall [--purge]

  --destdir DIR        install below DIR instead of / (also $DESTDIR); then no
                       user is created and no service is touched: the commands
                       that would run are printed instead
  --bin PATH           the kioskd binary to install (default: built from this
                       checkout with `go build -trimpath`)
  --camera-id VID:PID  the booth camera's USB vendor and product IDs (lsusb),
                       written into the udev rule for /dev/kiosk-camera
  --uninstall          remove kioskd (keeps the configuration, the state folder
                       /var/lib/kioskd and the kioskd user)
  --purge              with --uninstall: remove the configuration files too
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

destdir=${DESTDIR:-}
bin=""
camera_id=""
mode=install
purge=false
while [ $# -gt 0 ]; do
	case $1 in
	--destdir) [ $# -ge 2 ] || die "--destdir needs a folder"; destdir=$2; shift 2 ;;
	--destdir=*) destdir=${1#--destdir=}; shift ;;
	--bin) [ $# -ge 2 ] || die "--bin needs a file"; bin=$2; shift 2 ;;
	--bin=*) bin=${1#--bin=}; shift ;;
	--camera-id) [ $# -ge 2 ] || die "--camera-id needs VID:PID"; camera_id=$2; shift 2 ;;
	--camera-id=*) camera_id=${1#--camera-id=}; shift ;;
	--uninstall) mode=uninstall; shift ;;
	--purge) purge=true; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
if $purge && [ "$mode" != uninstall ]; then
	die "--purge goes with --uninstall"
fi
if [ -n "$camera_id" ]; then
	[[ $camera_id =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]] ||
		die "--camera-id $camera_id: want VID:PID, four hex digits each, as lsusb prints them (046d:0825)"
	camera_id=$(printf '%s' "$camera_id" | tr 'A-F' 'a-f')
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

if [ -n "$destdir" ]; then
	mkdir -p "$destdir"
	destdir=$(cd "$destdir" && pwd)
elif [ "$(id -u)" -ne 0 ]; then
	die "run as root (sudo), or give --destdir DIR"
fi

# run runs a command that changes the system, or in a DESTDIR only prints it.
run() {
	if [ -n "$destdir" ]; then
		say "would run: $*"
	else
		"$@"
	fi
}

# What gets installed: source (relative to deploy/), destination, mode. The
# binary's source is filled in below. Keep in step with nfpm.yaml (a test
# compares the two).
files=(
	"kioskd-browser /usr/bin/kioskd-browser 0755"
	"kioskd.service /usr/lib/systemd/system/kioskd.service 0644"
	"kioskd-browser.service /usr/lib/systemd/user/kioskd-browser.service 0644"
	"kioskd.sysusers /usr/lib/sysusers.d/kioskd.conf 0644"
	"kioskd-browser.desktop /usr/share/kioskd/kioskd-browser.desktop 0644"
	"README.md /usr/share/doc/kioskd/README.md 0644"
)
configs=(
	"kioskd.defaults /etc/default/kioskd 0644"
	"70-kiosk-camera.rules /etc/udev/rules.d/70-kiosk-camera.rules 0644"
)
# Folders of our own, removed on --uninstall when empty.
own_dirs=(/usr/share/kioskd /usr/share/doc/kioskd)

# put copies src to dst (below destdir) with mode, atomically, unless dst
# already has that content.
put() {
	local src=$1 dst=$destdir$2 mode=$3
	mkdir -p "$(dirname "$dst")"
	if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
		chmod "$mode" "$dst"
		return
	fi
	cp "$src" "$dst.install-tmp"
	chmod "$mode" "$dst.install-tmp"
	mv -f "$dst.install-tmp" "$dst"
	say "installed $2"
}

# put_config installs a configuration file only where there is none; an
# existing one differing from src is kept, with src put beside it as .dist.
put_config() {
	local src=$1 dst=$destdir$2 mode=$3
	if [ ! -e "$dst" ]; then
		put "$src" "$2" "$mode"
	elif ! cmp -s "$src" "$dst"; then
		put "$src" "$2.dist" "$mode"
		say "kept your $2; the shipped version is $2.dist"
	fi
}

install_all() {
	if [ -z "$bin" ]; then
		command -v go >/dev/null 2>&1 || die "no Go toolchain to build kioskd: give --bin PATH"
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		say "building kioskd"
		(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$tmp/kioskd" ./cmd/kioskd)
		bin=$tmp/kioskd
	fi
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		die "--bin $bin: not an executable file"
	fi

	put "$bin" /usr/bin/kioskd 0755
	local f
	for f in "${files[@]}"; do
		# shellcheck disable=SC2086 # three words on purpose
		set -- $f
		put "$here/$1" "$2" "$3"
	done

	local rules_src=$here/70-kiosk-camera.rules rules_dst=/etc/udev/rules.d/70-kiosk-camera.rules
	if [ -n "$camera_id" ]; then
		local filled
		filled=$(mktemp)
		sed -e "s/ATTRS{idVendor}==\"0000\"/ATTRS{idVendor}==\"${camera_id%:*}\"/" \
			-e "s/ATTRS{idProduct}==\"0000\"/ATTRS{idProduct}==\"${camera_id#*:}\"/" \
			"$rules_src" >"$filled"
		if [ -e "$destdir$rules_dst" ] && ! cmp -s "$filled" "$destdir$rules_dst"; then
			cp "$destdir$rules_dst" "$destdir$rules_dst.old"
			say "replaced $rules_dst (the previous one is $rules_dst.old)"
		fi
		put "$filled" "$rules_dst" 0644
		rm -f "$filled"
	fi
	for f in "${configs[@]}"; do
		# shellcheck disable=SC2086
		set -- $f
		if [ -n "$camera_id" ] && [ "$2" = "$rules_dst" ]; then
			continue # written above
		fi
		put_config "$here/$1" "$2" "$3"
	done

	if [ -z "$destdir" ] && ! command -v systemd-sysusers >/dev/null 2>&1; then
		getent passwd kioskd >/dev/null ||
			useradd --system --user-group --home-dir /var/lib/kioskd --no-create-home \
				--shell /usr/sbin/nologin --comment "kioskd photo station" kioskd
		usermod --append --groups video kioskd
	else
		run systemd-sysusers /usr/lib/sysusers.d/kioskd.conf
	fi
	run udevadm control --reload-rules
	run udevadm trigger --subsystem-match=video4linux --action=change
	run systemctl daemon-reload
	run systemctl enable kioskd.service
	if [ -z "$destdir" ]; then
		systemctl restart kioskd.service ||
			say "kioskd did not start: see journalctl -u kioskd"
	else
		say "would run: systemctl restart kioskd.service"
	fi
	say "done. The booth screen: as the user logged in on it, run"
	say "    systemctl --user enable --now kioskd-browser"
}

uninstall_all() {
	run systemctl disable --now kioskd.service
	local f
	rm -f "$destdir/usr/bin/kioskd"
	for f in "${files[@]}"; do
		# shellcheck disable=SC2086
		set -- $f
		rm -f "$destdir$2"
	done
	if $purge; then
		for f in "${configs[@]}"; do
			# shellcheck disable=SC2086
			set -- $f
			rm -f "$destdir$2" "$destdir$2.dist" "$destdir$2.old"
		done
	fi
	for f in "${own_dirs[@]}"; do
		rmdir "$destdir$f" 2>/dev/null || true
	done
	run systemctl daemon-reload
	run udevadm control --reload-rules
	say "removed kioskd; kept /var/lib/kioskd (records not yet synced may be there) and the user kioskd"
	if ! $purge; then
		say "kept /etc/default/kioskd and the udev rule (--purge removes them)"
	fi
}

case $mode in
install) install_all ;;
uninstall) uninstall_all ;;
esac
